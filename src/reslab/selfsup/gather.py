"""MoCo's keys across processes: gathered for the queue, and encoded from images shuffled across processes.

(The losses that compare images across the whole batch gather with gradients: `train.distributed.gather_with_grad`.)
"""
from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """Rows of every rank, in rank order, without gradients (MoCo's keys for the queue)."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


@torch.no_grad()
def encode_shuffled(encoder, x: torch.Tensor) -> torch.Tensor:
    """encoder(x), with the images shuffled across processes before encoding and the outputs put back after (MoCo's
    shuffling BN, He et al. 2020 Sec. 3.3): a key's batch statistics then come from other images than its query's,
    so the two cannot match by them. Every process must pass the same number of images."""
    if world_size() == 1:
        return encoder(x)
    everything = gather(x)
    order = torch.randperm(len(everything), device=x.device)
    dist.broadcast(order, 0)  # one permutation for all processes: rank 0's
    n, rank = len(x), dist.get_rank()
    shuffled = gather(encoder(everything[order[rank * n:(rank + 1) * n]]))
    keys = torch.empty_like(shuffled)
    keys[order] = shuffled
    return keys[rank * n:(rank + 1) * n]
