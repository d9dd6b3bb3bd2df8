"""Data-parallel training under torchrun: who am I, wrap the model, sum metrics over ranks."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this process group was created by init_from_env, so shutdown destroys it

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init_from_env(device: torch.device) -> DistEnv:
    """torchrun sets RANK, WORLD_SIZE, LOCAL_RANK (and the rendezvous); without them this is one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DistEnv()
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistEnv(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)


def wrap(model: nn.Module, env: DistEnv, device: torch.device, sync_bn: bool) -> nn.Module:
    if not env.enabled:
        return model
    if sync_bn:  # batch statistics of the whole batch, on any device (torch's SyncBatchNorm needs a GPU)
        from .global_bn import globalize_batch_norm

        model = globalize_batch_norm(model)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_sum(values: list[float], env: DistEnv, device: torch.device) -> list[float]:
    if not env.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()


def shutdown(env: DistEnv) -> None:
    """Destroy the process group if init_from_env created it (one the caller created is theirs to destroy)."""
    if env.owns_group and dist.is_initialized():
        dist.destroy_process_group()
