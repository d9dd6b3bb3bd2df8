"""Channel and spatial attention gates applied to a residual branch: SE, ECA, CBAM."""
import math

import torch
from torch import nn

from ..spec.rounding import make_divisible


def reduced_channels(channels: int, ratio: float, divisor: int, minimum: int = 1) -> int:
    """Hidden width of a gate's MLP: channels * ratio, rounded to a multiple of `divisor` with no upward correction
    (divisor 1: plain floor, as pycls's SE), at least `minimum`."""
    if divisor == 1:
        return max(minimum, int(channels * ratio))
    return make_divisible(channels * ratio, divisor, max(minimum, divisor), keep=0)


class SqueezeExcite(nn.Module):
    """Hu et al. 2018: global average pool -> bottleneck MLP (ReLU, Eq. 3) -> sigmoid channel weights."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * w.sigmoid()


class EfficientChannelAttention(nn.Module):
    """Wang et al. 2020 (ECA-Net): a 1D convolution across pooled channels replaces SE's MLP."""

    def __init__(self, channels: int, gamma: int = 2, beta: int = 1):
        super().__init__()
        k = int(abs((math.log2(channels) + beta) / gamma))  # kernel adapts to channel count, Eq. 12
        k = k if k % 2 else k + 1
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv(x.mean((2, 3)).unsqueeze(1))  # (N, 1, C)
        return x * w.transpose(1, 2).unsqueeze(-1).sigmoid()


class ConvolutionalBlockAttention(nn.Module):
    """Woo et al. 2018 (CBAM): a channel gate from average- and max-pooled features, then a 7x7 spatial gate."""

    def __init__(self, channels: int, hidden: int, kernel_size: int = 7):
        super().__init__()
        self.channel = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Sequential(
            nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False), nn.BatchNorm2d(1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.channel(x.mean((2, 3), keepdim=True)) + self.channel(x.amax((2, 3), keepdim=True))
        x = x * w.sigmoid()
        s = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return x * self.spatial(s).sigmoid()


def make_attention(kind: str, channels: int, hidden: int) -> nn.Module:
    """A gate on `channels`; SE and CBAM reduce them to `hidden` in their MLP (ECA has none)."""
    if kind == "none":
        return nn.Identity()
    if kind == "se":
        return SqueezeExcite(channels, hidden)
    if kind == "eca":
        return EfficientChannelAttention(channels)
    if kind == "cbam":
        return ConvolutionalBlockAttention(channels, hidden)
    raise ValueError(f"unknown attention {kind!r}; choose none, se, eca or cbam")
