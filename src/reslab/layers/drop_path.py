"""Stochastic depth (Huang et al. 2016): drop a whole residual branch per sample while training."""
import torch
from torch import nn


class DropPath(nn.Module):
    def __init__(self, rate: float = 0.0):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rate == 0.0 or not self.training:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)  # rescale so the expected output is unchanged

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
