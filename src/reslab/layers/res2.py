"""Res2Net's hierarchical 3x3 (Gao et al. 2019, Sec. 3.1): channel splits that feed each other, many scales in one
block."""
import torch
from torch import nn

from .activation import make_act


class Res2Conv(nn.Module):
    """`scale` splits of `width` channels; split i (i>1) is convolved after adding split i-1's output.

    The last split passes through untouched (average-pooled when the block downsamples or changes width,
    since it cannot be added to a previous split there).
    """

    def __init__(self, width: int, scale: int, stride: int = 1, groups: int = 1, dilation: int = 1,
                 first: bool = False, act: str = "relu"):
        super().__init__()
        self.width, self.scale = width, scale
        # the first block of a stage cannot chain splits: their inputs have not been adapted yet
        self.first = first
        num_convs = max(1, scale - 1)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, stride, dilation, dilation, groups=groups, bias=False)
                                   for _ in range(num_convs))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(num_convs))
        self.act = make_act(act)
        self.pool = nn.AvgPool2d(3, stride, 1) if first and scale > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = torch.split(x, self.width, 1)
        outputs, previous = [], None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            inp = splits[i] if previous is None or self.first else previous + splits[i]
            previous = self.act(bn(conv(inp)))
            outputs.append(previous)
        if self.scale > 1:
            outputs.append(self.pool(splits[-1]))
        return torch.cat(outputs, 1)
