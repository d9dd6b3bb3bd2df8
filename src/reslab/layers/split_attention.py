"""Split attention (Zhang et al. 2020, ResNeSt Sec. 3): `radix` splits per cardinal group, weighted by a
softmax over the splits computed from their pooled sum."""
import torch
from torch import nn

from .activation import make_act


class SplitAttention(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1, dilation: int = 1,
                 radix: int = 2, hidden: int = 32, act: str = "relu"):
        super().__init__()
        self.radix = radix
        mid = out_channels * radix
        # one grouped conv computes all radix x cardinality splits at once
        self.conv = nn.Conv2d(in_channels, mid, 3, stride, dilation, dilation, groups=groups * radix, bias=False)
        self.bn0 = nn.BatchNorm2d(mid)
        self.act0 = make_act(act)
        self.fc1 = nn.Conv2d(out_channels, hidden, 1, groups=groups)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.act1 = make_act(act)
        self.fc2 = nn.Conv2d(hidden, mid, 1, groups=groups)
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act0(self.bn0(self.conv(x)))
        n, rc, h, w = x.shape
        splits = x.view(n, self.radix, rc // self.radix, h, w)
        pooled = splits.sum(1).mean((2, 3), keepdim=True)
        logits = self.fc2(self.act1(self.bn1(self.fc1(pooled))))
        if self.radix > 1:
            # softmax across the radix splits of each cardinal group (Sec. 3.1, "r-Softmax")
            weights = logits.view(n, self.groups, self.radix, -1).transpose(1, 2).softmax(dim=1)
        else:
            weights = logits.sigmoid()
        weights = weights.reshape(n, self.radix, rc // self.radix, 1, 1)
        return (splits * weights).sum(1)
