"""Datasets with transforms applied, and their DataLoaders.

Each sample's augmentation draws from its own generator seeded by (seed, epoch, index): the images a step sees
do not depend on the number of workers, on the rank that loads them, or on where a run was resumed.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset

from .sampler import ShardedEpochSampler


class Augmented(Dataset):
    def __init__(self, base, transform, seed: int):
        self.base, self.transform, self.seed = base, transform, seed

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key  # the sampler sends the epoch along: persistent workers hold their own dataset copy
        image, label = self.base.load(index)
        if image is None:
            return None, label, self.base.name(index)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(hash((self.seed, epoch, index)) % 2**63)
            return self.transform(image), label, None


@dataclass
class Batch:
    images: torch.Tensor
    labels: torch.Tensor
    unreadable: list[str] = field(default_factory=list)


def collate_readable(samples) -> Batch:
    """Stack the readable samples; name the unreadable ones so the engine can warn and count them."""
    good = [(x, y) for x, y, bad in samples if bad is None]
    unreadable = [bad for _, _, bad in samples if bad is not None]
    if not good:
        return Batch(torch.empty(0), torch.empty(0, dtype=torch.long), unreadable)
    return Batch(torch.stack([x for x, _ in good]), torch.tensor([y for _, y in good]), unreadable)


class UnreadableImages:
    """The unreadable images named by a loader's batches, each warned about once: the count train and eval report."""

    def __init__(self):
        self.paths: set[str] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def note(self, batch: Batch) -> None:
        for path in batch.unreadable:
            if path not in self.paths:
                warnings.warn(f"skipping unreadable image {path}", stacklevel=2)
                self.paths.add(path)


def default_workers(in_memory: bool) -> int:
    """In-memory tensors need no workers; files use up to 2 (this project's 2-core machines)."""
    return 0 if in_memory else min(2, max(1, (os.cpu_count() or 1) - 1))


def make_loader(dataset: Augmented, batch_size: int, sampler, workers: int, drop_last: bool) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      collate_fn=collate_readable, drop_last=drop_last, persistent_workers=workers > 0)


__all__ = ["Augmented", "Batch", "ShardedEpochSampler", "UnreadableImages", "collate_readable", "default_workers",
           "make_loader"]
