"""Batch norm over the whole batch of every process (`--sync-bn`, and the self-supervised methods that need it).

Under data parallelism each process sees 1/world of the batch; a BatchNorm normalising with its own slice's
statistics is not the single-process model. GlobalBatchNorm combines every process's per-channel mean, variance and
count into the statistics of the whole batch (one collective forward, one backward) and normalises with those, so
that `world` processes with batch N / world compute what one process computes with batch N. It runs on any device
and backend (torch's SyncBatchNorm refuses CPU tensors), and has the parameters and buffers of the BatchNorm it
replaces, so checkpoints do not change. Outside training, or in one process, it is a BatchNorm.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .collectives import gather, world_size


def _channel_dims(x: torch.Tensor) -> list[int]:
    return [0, *range(2, x.dim())]


def _per_channel(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.view((1, -1) + (1,) * (like.dim() - 2))


class _Normalise(torch.autograd.Function):
    """x -> ((x - mean) / sqrt(var + eps), mean, var, count) with the statistics of every process's batch.

    Forward gathers each process's per-channel (mean, variance, count), numerically stable where raw sums would
    cancel. Backward is BatchNorm's fused gradient, (g - sum(g) / N - x_hat sum(g x_hat) / N) / std, with both sums
    taken over every process (one all-reduce of 2 x C numbers): each process's rows receive the gradient of the sum
    of all processes' losses, which DDP's average over processes turns into the one-process gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float):
        var, mean = torch.var_mean(x, dim=_channel_dims(x), correction=0)
        local = torch.stack([mean, var, torch.full_like(mean, x.numel() / x.shape[1])])
        means, variances, counts = gather(local[None]).unbind(1)  # each (world, C)
        n = counts.sum(0)
        mean = (counts * means).sum(0) / n
        var = (counts * (variances + (means - mean) ** 2)).sum(0) / n  # within- plus between-process spread
        invstd = torch.rsqrt(var + eps)
        x_hat = (x - _per_channel(mean, x)) * _per_channel(invstd, x)
        ctx.save_for_backward(x_hat, invstd, n)  # tensors, not Python numbers: no device sync on a GPU
        ctx.mark_non_differentiable(mean, var, n)
        return x_hat, mean, var, n

    @staticmethod
    def backward(ctx, grad: torch.Tensor, *_statistics_grads):
        x_hat, invstd, n = ctx.saved_tensors
        dims = _channel_dims(grad)
        sums = torch.stack([grad.sum(dims), (grad * x_hat).sum(dims)])
        dist.all_reduce(sums)
        mean_grad, mean_grad_x_hat = (_per_channel(s / n, grad) for s in sums)
        return (grad - mean_grad - x_hat * mean_grad_x_hat) * _per_channel(invstd, grad), None


class GlobalBatchNorm(_BatchNorm):
    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"GlobalBatchNorm needs (N, C, ...) input, got {x.dim()} dimension(s)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()  # half precision: statistics in float32
        x_hat, mean, var, count = _Normalise.apply(xf, self.eps)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / int(self.num_batches_tracked)
                unbiased = var * count / (count - 1).clamp(min=1)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), m)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        y = x_hat * _per_channel(self.weight, x) + _per_channel(self.bias, x) if self.affine else x_hat
        return y.to(x.dtype)


def globalize_batch_norm(module: nn.Module) -> nn.Module:
    """Every BatchNorm in `module` replaced (in place) by a GlobalBatchNorm holding the same parameter and buffer
    tensors (an optimiser built before still updates them); returns the module (the new one if it is a BatchNorm)."""
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            setattr(new, name, tensor)
        return new.train(module.training)
    for name, child in module.named_children():
        setattr(module, name, globalize_batch_norm(child))
    return module
