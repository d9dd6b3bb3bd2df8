"""The loader every evaluation reads (a training run's validation, `reslab eval`, the kNN monitor): a split in
order with the model's evaluation preprocessing, each process its own shard; a split held in memory goes in whole
tensor batches where its transform allows, any other image by image."""
from __future__ import annotations

from . import Augmented, ShardedEpochSampler, default_workers, is_in_memory, make_loader
from .tensor_batches import eval_batches
from .transforms import eval_transform


def eval_loader(dataset, pre, batch_size: int, *, size: int | None = None, rank: int = 0, world: int = 1,
                workers: int | None = None):
    """`dataset` in order at `size` (default: the preprocessing's input size), batches of `batch_size`."""
    size = size or pre.input_size
    sampler = ShardedEpochSampler(len(dataset), seed=0, rank=rank, world=world, shuffle=False)
    workers = default_workers(is_in_memory(dataset)) if workers is None else workers
    return eval_batches(dataset, pre, size, sampler, batch_size) or make_loader(
        Augmented(dataset, eval_transform(pre, size), 0), batch_size, sampler, workers, drop_last=False)
