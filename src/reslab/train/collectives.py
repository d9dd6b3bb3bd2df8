"""Rows of every process's tensor: gathered without gradients, or with gradients that flow back to each process's
own rows (for losses and statistics over the whole batch of all processes). One process: the tensor itself."""
from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    """Processes in the default group (1 outside torchrun)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """Rows of every process (each passes the same number), in rank order, without gradients."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class _GatherWithGrad(torch.autograd.Function):
    """Forward: every process's rows, in rank order. Backward: each process receives the sum over processes of the
    gradients for its own rows (every process's loss may depend on them)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.rows = dist.get_rank(), len(x)
        return gather(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Rows of every process (each passes the same number), in rank order; gradients flow back to each process's
    own rows. One process: x itself. When every process computes the loss of the whole batch from these rows, each
    process's rows get world x their gradient, and DDP's average over processes gives the one-process gradient."""
    return x if world_size() == 1 else _GatherWithGrad.apply(x)
