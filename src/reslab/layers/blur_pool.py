"""Anti-aliased downsampling (Zhang 2019, "Making Convolutional Networks Shift-Invariant Again"): low-pass
filter with a binomial kernel, then subsample."""
import math

import torch
import torch.nn.functional as F
from torch import nn


class BlurPool2d(nn.Module):
    def __init__(self, channels: int, stride: int = 2, kernel_size: int = 3):
        super().__init__()
        self.channels, self.stride = channels, stride
        row = torch.tensor([math.comb(kernel_size - 1, k) for k in range(kernel_size)], dtype=torch.float32)
        row = row / row.sum()
        kernel = (row[:, None] * row[None, :]).expand(channels, 1, kernel_size, kernel_size).clone()
        # a fixed filter, not a parameter: kept out of the state dict like timm does
        self.register_buffer("filt", kernel, persistent=False)
        pad = (kernel_size - 1) // 2
        self.padding = (pad, pad, pad, pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, self.padding, mode="reflect"), self.filt, stride=self.stride, groups=self.channels)
