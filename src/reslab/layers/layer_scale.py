"""Layer scale (Touvron et al. 2021, CaiT): a learnt per-channel factor on a residual branch, started small so
that a deep network begins close to the identity (ConvNeXt uses 1e-6)."""
import torch
from torch import nn


class LayerScale(nn.Module):
    def __init__(self, channels: int, init: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1)
