"""Selective-kernel convolution (Li et al. 2019, SKNet Sec. 3.1): paths with different receptive fields, mixed
by a softmax attention computed from their sum."""
import torch
from torch import nn

from .activation import make_act


class ConvNormAct(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, stride: int, dilation: int, groups: int, act: str):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, dilation, dilation, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = make_act(act)


class SelectiveKernelAttention(nn.Module):
    """Fuse (sum, pool, MLP) then select: one softmax over the paths per output channel (Eq. 5-6)."""

    def __init__(self, channels: int, paths: int, hidden: int, act: str):
        super().__init__()
        self.paths = paths
        self.fc_reduce = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn = nn.BatchNorm2d(hidden)
        self.act = make_act(act)
        self.fc_select = nn.Conv2d(hidden, channels * paths, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, paths, C, H, W)
        z = self.act(self.bn(self.fc_reduce(x.sum(1).mean((2, 3), keepdim=True))))
        n, c = x.shape[0], x.shape[2]
        return self.fc_select(z).view(n, self.paths, c, 1, 1).softmax(dim=1)


class SelectiveKernelConv(nn.Module):
    """`paths` 3x3 convolutions with dilation 1, 2, ...: a dilated 3x3 stands in for the paper's 5x5 (Sec. 3.1).

    `split_input` feeds each path 1/paths of the input channels, which keeps parameters close to a plain 3x3.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1, dilation: int = 1,
                 paths: int = 2, hidden: int = 32, split_input: bool = False, act: str = "relu"):
        super().__init__()
        self.split = in_channels // paths if split_input else None
        path_in = self.split or in_channels
        self.paths = nn.ModuleList(
            ConvNormAct(path_in, out_channels, stride, dilation * (i + 1), min(groups, out_channels), act)
            for i in range(paths))
        self.attn = SelectiveKernelAttention(out_channels, paths, hidden, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = torch.split(x, self.split, 1) if self.split else [x] * len(self.paths)
        y = torch.stack([path(inp) for path, inp in zip(self.paths, inputs)], dim=1)
        return (y * self.attn(y)).sum(1)
