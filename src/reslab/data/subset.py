"""`--subset N`: the same number of images from every class, drawn with a fixed seed; `--val-subset` likewise,
by default a share of the validation split in proportion to `--subset`."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from .errors import DataError

MIN_VALIDATION = 1000  # the fewest validation images a --subset run validates on by default (or the whole split)


class ClassBalancedSubset(Dataset):
    """`total` // classes images of each class. `strict`: a class with fewer is an error; else it gives all it has.
    Of an image folder, `samples` are the chosen files alone, so that only they are decoded (data.decoded)."""

    def __init__(self, base, total: int, seed: int = 0, *, flag: str = "--subset", strict: bool = True):
        n_classes = len(base.classes)
        if total < n_classes:
            raise DataError(f"{flag} {total} is smaller than the number of classes ({n_classes})")
        per_class = total // n_classes
        order = torch.randperm(len(base), generator=torch.Generator().manual_seed(seed)).tolist()
        taken: dict[int, list[int]] = {c: [] for c in range(n_classes)}
        for i in order:
            bucket = taken[base.targets[i]]
            if len(bucket) < per_class:
                bucket.append(i)
        short = {base.classes[c]: len(v) for c, v in taken.items() if len(v) < per_class}
        if short and strict:
            raise DataError(f"{flag} {total} needs {per_class} images per class; too few in {short}")
        self.base, self.indices = base, sorted(i for v in taken.values() for i in v)
        self.classes = base.classes
        self.targets = [base.targets[i] for i in self.indices]
        if hasattr(base, "samples"):
            self.root, self.samples = base.root, [base.samples[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int):
        return self.base.load(self.indices[index])

    def name(self, index: int) -> str:
        return self.base.name(self.indices[index])


def take_subsets(found: dict, subset: int | None, val_subset: int | None, seed: int, say=print) -> dict:
    """The splits with `--subset` (of "train") and `--val-subset` (of "val": 0 for the whole split) applied. With
    a subset and no val_subset, "val" shrinks in proportion (to at least MIN_VALIDATION images), which is said."""
    for split, flag, n in (("train", "--subset", subset), ("val", "--val-subset", val_subset)):
        if split in found and n is not None and n > len(found[split]):
            raise DataError(f"{flag} {n} is more than the {len(found[split])} images there; give at most "
                            f"{len(found[split])} (or leave it out for all)")
    found = dict(found)
    if "val" in found and val_subset is None and subset and "train" in found:
        val, train = found["val"], found["train"]
        share = max(MIN_VALIDATION, len(val.classes), round(len(val) * subset / len(train)))
        if share < len(val):
            found["val"] = ClassBalancedSubset(val, share, flag="the validation subset", strict=False)
            say(f"validating on {len(found['val']):,} of the {len(val):,} validation images: a class-balanced "
                f"subset in proportion to --subset {subset} (at least {MIN_VALIDATION:,}); --val-subset N to "
                "choose, --val-subset all for the whole split")
    elif "val" in found and val_subset:
        found["val"] = ClassBalancedSubset(found["val"], val_subset, flag="--val-subset")
    if "train" in found and subset:
        found["train"] = ClassBalancedSubset(found["train"], subset, seed=seed)
    return found
