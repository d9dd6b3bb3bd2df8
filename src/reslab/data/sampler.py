"""The order in which a rank sees the training images: a pure function of (seed, epoch), so a resumed or a
sharded run sees exactly what an uninterrupted single-process run would."""
from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler


class ShardedEpochSampler(Sampler[tuple[int, int]]):
    """Yields (epoch, index). Shuffle with seed + epoch, give rank r the positions r, r+world, ... (like
    DistributedSampler).

    `repeats` > 1 is repeated augmentation (Hoffer et al. 2020; Touvron et al. 2021 DeiT Sec. 6): every image
    appears `repeats` times per epoch, spread over the ranks, and the epoch keeps its original length.
    `start` skips the first samples of this rank's share, for a run resumed mid-epoch.
    """

    def __init__(self, size: int, *, seed: int, rank: int = 0, world: int = 1, shuffle: bool = True,
                 repeats: int = 1):
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.shuffle, self.repeats = shuffle, repeats
        self.epoch, self.start = 0, 0
        self.per_rank = math.ceil(size / world) if repeats == 1 else size // world

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.per_rank - self.start

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.size, generator=g) if self.shuffle else torch.arange(self.size)
        if self.repeats > 1:
            order = order.repeat_interleave(self.repeats)
        total = self.per_rank * self.world
        order = torch.cat([order, order[: max(0, total - len(order))]])[:total]  # pad so every rank has as many
        return iter((self.epoch, i) for i in order[self.rank::self.world][self.start:].tolist())
