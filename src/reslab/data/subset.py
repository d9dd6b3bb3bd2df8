"""`--subset N`: the same number of images from every class, drawn with a fixed seed."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from .errors import DataError


class ClassBalancedSubset(Dataset):
    def __init__(self, base, total: int, seed: int = 0):
        n_classes = len(base.classes)
        if total < n_classes:
            raise DataError(f"--subset {total} is smaller than the number of classes ({n_classes})")
        per_class = total // n_classes
        order = torch.randperm(len(base), generator=torch.Generator().manual_seed(seed)).tolist()
        taken: dict[int, list[int]] = {c: [] for c in range(n_classes)}
        for i in order:
            bucket = taken[base.targets[i]]
            if len(bucket) < per_class:
                bucket.append(i)
        short = {base.classes[c]: len(v) for c, v in taken.items() if len(v) < per_class}
        if short:
            raise DataError(f"--subset {total} needs {per_class} images per class; too few in {short}")
        self.base, self.indices = base, sorted(i for v in taken.values() for i in v)
        self.classes = base.classes
        self.targets = [base.targets[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int):
        return self.base.load(self.indices[index])

    def name(self, index: int) -> str:
        return self.base.name(self.indices[index])
