"""MoCo's keys encoded from images shuffled across processes (the gathers themselves: `train.collectives`)."""
from __future__ import annotations

import torch
import torch.distributed as dist

from ..train.collectives import gather, world_size


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
