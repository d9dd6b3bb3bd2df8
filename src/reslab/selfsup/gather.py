"""Embeddings of every process's images, for the methods whose loss compares images across the whole batch.

The gather keeps gradients (torch.distributed.nn): every rank computes the loss of the global batch, each rank's
gradient reaches its own images, and DDP's averaging over ranks then gives exactly the single-process gradient.
"""
from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Rows of every rank, in rank order; gradients flow back to each rank's own rows."""
    if world_size() == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x))


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """Rows of every rank, in rank order, without gradients (MoCo's keys for the queue)."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)
