"""Space-to-depth (TResNet, Ridnik et al. 2021 Sec. 2.1): fold each b x b block of pixels into channels, so the
stem downsamples without discarding anything and its first convolution runs on a small, deep tensor."""
import torch
from torch import nn


class SpaceToDepth(nn.Module):
    """(N, C, H, W) -> (N, b*b*C, H/b, W/b); output channel (i*b + j)*C + c holds pixel (i, j) of each block."""

    def __init__(self, block_size: int = 4):
        super().__init__()
        self.block_size = block_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.block_size  # no shape reads, so fx tracing and export see plain tensor ops
        x = x.unflatten(2, (-1, b)).unflatten(4, (-1, b))  # (N, C, H/b, b, W/b, b)
        return x.permute(0, 3, 5, 1, 2, 4).flatten(1, 3)
