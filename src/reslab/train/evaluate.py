"""Evaluation: top-1, top-5, loss, per-class accuracy and a confusion matrix, optionally with flip TTA."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ReslabError
from ..weights.rundir import find_weights
from ..util.precision import autocast
from .device import pick_device


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
             channels_last: bool = False, reduce=None, bar=None) -> EvalResult:
    """`tta`: average the softmax of the image and its mirror. `reduce` sums a tensor over ranks (DDP). `bar`: a
    ProgressBar over the loader's batches."""
    was_training = model.training
    model.eval()
    k = len(classes)
    confusion = torch.zeros(k, k, dtype=torch.float64)
    sums = torch.zeros(3, dtype=torch.float64)  # loss sum, top-5 hits, images
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    unreadable: list[str] = []
    for done, batch in enumerate(loader, 1):
        unreadable += batch.unreadable
        if bar is not None:
            bar.update(done, int(sums[2]) + len(batch.labels))
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
                        confusion_png: Path | None = None, progress: bool = False) -> EvalResult:
    """Evaluate a run directory or weights file on `split` of `data` (None: the built-in digits); `progress`: a
    progress bar on stderr."""
    from ..weights import load_model

    if batch_size < 1:
        raise ReslabError(f"--batch-size {batch_size}: must be at least 1")
    path = find_weights(checkpoint)
    return evaluate_model(load_model(path), data, split=split, tta=tta, batch_size=batch_size, workers=workers,
                          device=device, confusion_png=confusion_png, name=str(path), title=path.parent.name,
                          progress=progress)


def evaluate_model(model, data: str | None = None, *, split: str = "val", tta: bool = False, batch_size: int = 128,
                   workers: int | None = None, device: str = "auto", confusion_png: Path | None = None,
                   name: str | None = None, title: str | None = None, progress: bool = False) -> EvalResult:
    """Evaluate a model (its own preprocessing, its `.classes`) on `split` of `data` (None: the built-in digits).

    A dataset whose classes are some of the model's (by name, or by id: ImageNet's WordNet ids, which name the
    folders of ImageNet and its subsets such as Imagenette) is scored over those classes only. `progress`: a
    progress bar over the batches on stderr (off by default: a library call is silent)."""
    from ..data import open_splits
    from ..data.evaluation import eval_loader
    from ..util.progress import ProgressBar

    if batch_size < 1:
        raise ReslabError(f"--batch-size {batch_size}: must be at least 1")
    name = name or model.weights_tag or model.preset or "the model"
    dataset = open_splits(data, (split,), progress=progress)[split]
    scored = _scored_classes(model, dataset.classes, name, f"{data or 'digits'}/{split}")
    dev = pick_device(device)
    model.to(dev)
    loader = eval_loader(dataset, model.preprocessing, batch_size, workers=workers)
    bar = ProgressBar(len(loader), f"evaluating on {data or 'digits'}/{split}", progress)
    result = evaluate(model if scored is None else _ClassSubset(model, scored), loader, dataset.classes, dev, tta=tta,
                      bar=bar)
    if not math.isfinite(result.loss):  # finite weights whose activations overflow: NaN probabilities
        raise ReslabError(f"{name} gives NaN or infinite outputs on {data or 'digits'}/{split} (loss {result.loss}), "
                          "although its weights are finite (they overflow): its metrics would mean nothing; "
                          "retrain it or use another checkpoint")
    if confusion_png is not None:
        save_confusion_png(result, confusion_png, title=f"{title or name}: top-1 {result.top1:.2%}")
    return result


def _scored_classes(model, data_classes: list[str], name: str, where: str) -> list[int] | None:
    """The model's output index of each of the dataset's classes, or None when they are the model's own."""
    classes, ids = model.classes, model.class_ids
    if classes is not None and list(classes) == list(data_classes):
        return None
    for known in (ids, classes):
        if known is not None and list(known) != list(data_classes) and set(data_classes) <= set(known):
            index = {c: i for i, c in enumerate(known)}
            return [index[c] for c in data_classes]
        if known is not None and list(known) == list(data_classes):
            return None
    if classes is not None:
        shown = list(classes) if len(classes) <= 12 else f"{len(classes)} classes ({', '.join(classes[:3])}, ...)"
        raise ReslabError(f"{name} was trained on classes {shown}, but {where} has {list(data_classes)}")
    outputs = model.spec.num_classes
    if outputs != len(data_classes):
        raise ReslabError(f"{name} has {outputs} outputs but {where} has {len(data_classes)} classes, and it stores "
                          f"no class names to match them up; evaluate it on data with {outputs} classes")
    return None


class _ClassSubset(torch.nn.Module):
    """The model's outputs for some of its classes only, in the dataset's order."""

    def __init__(self, model, indices: list[int]):
        super().__init__()
        self.model = model
        self.register_buffer("indices", torch.tensor(indices), persistent=False)

    def forward(self, x):
        return self.model(x).index_select(1, self.indices.to(x.device))
