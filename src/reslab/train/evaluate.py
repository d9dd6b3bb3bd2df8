"""Evaluation: top-1, top-5, loss, per-class accuracy and a confusion matrix, optionally with flip TTA."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ReslabError
from .checkpoint import find_weights
from .device import autocast, pick_device


@dataclass
class EvalResult:
    top1: float
    top5: float
    loss: float
    images: int
    confusion: torch.Tensor  # rows: true class, columns: predicted class
    classes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # images skipped because they could not be read

    @property
    def per_class(self) -> dict[str, float]:
        totals = self.confusion.sum(1).clamp(min=1)
        return {c: float(a) for c, a in zip(self.classes, self.confusion.diag() / totals)}

    def to_dict(self) -> dict:
        return {"top1": self.top1, "top5": self.top5, "loss": self.loss, "images": self.images,
                "unreadable": len(self.unreadable), "per_class": self.per_class}


@torch.no_grad()
def evaluate(model, loader, classes: list[str], device: torch.device, *, amp: str = "off", tta: bool = False,
             channels_last: bool = False, reduce=None) -> EvalResult:
    """`tta`: average the softmax of the image and its mirror. `reduce` sums a tensor over ranks (DDP)."""
    was_training = model.training
    model.eval()
    k = len(classes)
    confusion = torch.zeros(k, k, dtype=torch.float64)
    sums = torch.zeros(3, dtype=torch.float64)  # loss sum, top-5 hits, images
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    unreadable: list[str] = []
    for batch in loader:
        unreadable += batch.unreadable
        if len(batch.labels) == 0:
            continue
        images = batch.images.to(device, memory_format=fmt)
        labels = batch.labels.to(device)
        with autocast(device, amp):
            probs = model(images).float().softmax(-1)
            if tta:
                probs = (probs + model(images.flip(-1)).float().softmax(-1)) / 2
        sums[0] += F.nll_loss(probs.clamp_min(1e-12).log(), labels, reduction="sum").item()
        top5 = probs.topk(min(5, probs.shape[1]), dim=1).indices
        sums[1] += (top5 == labels[:, None]).any(1).sum().item()
        sums[2] += len(labels)
        confusion.index_put_((labels.cpu(), probs.argmax(1).cpu()), torch.ones(len(labels), dtype=torch.float64),
                             accumulate=True)
    if reduce is not None:
        confusion, sums = reduce(confusion), reduce(sums)
    model.train(was_training)
    n = max(float(sums[2]), 1.0)
    return EvalResult(top1=float(confusion.trace()) / n, top5=float(sums[1]) / n, loss=float(sums[0]) / n,
                      images=int(sums[2]), confusion=confusion, classes=list(classes), unreadable=unreadable)


def save_confusion_png(result: EvalResult, path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    k = len(result.classes)
    rows = result.confusion / result.confusion.sum(1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(2 + 0.45 * k, 1.6 + 0.45 * k))
    im = ax.imshow(rows.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ticks = range(k) if k <= 40 else []
    ax.set_xticks(list(ticks), [result.classes[i] for i in ticks], rotation=90, fontsize=7)
    ax.set_yticks(list(ticks), [result.classes[i] for i in ticks], fontsize=7)
    ax.set_title(title or f"top-1 {result.top1:.2%}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def evaluate_checkpoint(checkpoint, data: str | None = None, *, split: str = "val", tta: bool = False,
                        batch_size: int = 128, workers: int | None = None, device: str = "auto",
                        confusion_png: Path | None = None) -> EvalResult:
    """Evaluate a run directory or weights file on `split` of `data` (None: the built-in digits)."""
    from ..data import Augmented, ShardedEpochSampler, default_workers, is_in_memory, make_loader, open_splits
    from ..data.transforms import eval_transform
    from ..weights import load_model

    if batch_size < 1:
        raise ReslabError(f"--batch-size {batch_size}: must be at least 1")
    path = find_weights(checkpoint)
    model = load_model(path)
    classes = model.classes
    dataset = open_splits(data, (split,))[split]
    if classes is not None and list(classes) != list(dataset.classes):
        raise ReslabError(f"{path} was trained on classes {classes}, but {data or 'digits'}/{split} has "
                          f"{dataset.classes}")
    outputs = model.spec.num_classes
    if classes is None and outputs != len(dataset.classes):
        raise ReslabError(f"{path} has {outputs} outputs but {data or 'digits'}/{split} has "
                          f"{len(dataset.classes)} classes, and it stores no class names to match them up; "
                          f"evaluate it on data with {outputs} classes")
    dev = pick_device(device)
    model.to(dev)
    pre = model.preprocessing
    view = Augmented(dataset, eval_transform(pre, pre.input_size), seed=0)
    sampler = ShardedEpochSampler(len(dataset), seed=0, shuffle=False)
    loader = make_loader(view, batch_size, sampler, default_workers(is_in_memory(dataset))
                         if workers is None else workers, drop_last=False)
    result = evaluate(model, loader, dataset.classes, dev, tta=tta)
    if confusion_png is not None:
        save_confusion_png(result, confusion_png, title=f"{path.parent.name}: top-1 {result.top1:.2%}")
    return result
