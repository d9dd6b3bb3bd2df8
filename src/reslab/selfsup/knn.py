"""k-nearest-neighbour classification of frozen features (Wu et al. 2018, InstDisc, Sec. 3.4; MoCo's monitor):
cosine similarity to a labelled bank, the k nearest vote with weight exp(similarity / t)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ReslabError


def knn_predict(queries: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor, num_classes: int, *,
                k: int = 200, t: float = 0.1, chunk: int = 1024) -> torch.Tensor:
    """The predicted class of each query row (features need not be normalised)."""
    bank = F.normalize(bank.float(), dim=1)
    k = min(k, len(bank))
    out = []
    for q in F.normalize(queries.float(), dim=1).split(chunk):
        sim, idx = (q @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(q), num_classes).scatter_add_(1, bank_labels[idx], (sim / t).exp())
        out.append(votes.argmax(1))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


@torch.no_grad()
def embed(backbone, loader, device: torch.device, bar=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(pooled features, labels) of every readable image the loader gives, the backbone in eval mode; `bar`: a
    ProgressBar over the loader's batches."""
    was_training = backbone.training
    backbone.eval()
    feats, labels = [], []
    for done, batch in enumerate(loader, 1):
        if bar is not None:
            bar.update(done, sum(map(len, labels)) + len(batch.labels))
        if len(batch.labels):
            x = batch.images.to(device)
            feats.append(backbone.forward_head(backbone.forward_features(x), pre_logits=True).float().cpu())
            labels.append(batch.labels)
    backbone.train(was_training)
    return torch.cat(feats), torch.cat(labels)


@dataclass
class KnnResult:
    top1: float
    queries: int
    bank: int


def knn_top1(backbone, bank_set, query_set, device: torch.device, *, k: int = 200, t: float = 0.1,
             batch_size: int = 256, workers: int | None = None, progress: bool = False) -> KnnResult:
    """`progress`: a progress bar on stderr over the bank, then over the queries."""
    from ..data.evaluation import eval_loader
    from ..util.progress import ProgressBar

    def features(dataset, what: str):
        loader = eval_loader(dataset, backbone.preprocessing, batch_size, workers=workers)
        return embed(backbone, loader, device, ProgressBar(len(loader), f"kNN: embedding the {what}", progress))

    bank, bank_labels = features(bank_set, "bank")
    queries, labels = features(query_set, "queries")
    pred = knn_predict(queries, bank, bank_labels, len(bank_set.classes), k=k, t=t)
    return KnnResult(float((pred == labels).float().mean()), len(labels), len(bank_labels))


def knn_eval(checkpoint, data: str | None, *, bank: str | None = None, k: int = 200, t: float = 0.1,
             batch_size: int = 256, device: str = "auto", progress: bool = False) -> KnnResult:
    """kNN top-1 of a checkpoint's frozen backbone: queries from `data`'s val/, the bank from `bank`'s train/
    (default `data`), both with the checkpoint's evaluation preprocessing; `progress`: progress bars on stderr."""
    from ..data import open_splits
    from ..weights.rundir import find_weights
    from ..train.device import pick_device
    from ..weights import load_model

    if k < 1 or t <= 0 or batch_size < 1:
        raise ReslabError(f"kNN needs k >= 1, t > 0 and --batch-size >= 1 (got k={k}, t={t}, {batch_size})")
    model = load_model(find_weights(checkpoint))
    query_set = open_splits(data, ("val",), progress=progress)["val"]
    bank_set = open_splits(bank if bank is not None else data, ("train",), progress=progress)["train"]
    if list(query_set.classes) != list(bank_set.classes):
        raise ReslabError(f"the bank's classes {bank_set.classes} differ from the queries' {query_set.classes}: "
                          f"kNN labels a query by its neighbours' classes, so both need the same class folders")
    dev = pick_device(device)
    return knn_top1(model.to(dev), bank_set, query_set, dev, k=k, t=t, batch_size=batch_size, progress=progress)
