"""The three ways a residual shortcut can change shape (He et al. 2015 Sec. 3.3; He et al. 2019 Sec. 4.1)."""
import torch
import torch.nn.functional as F
from torch import nn


class ZeroPadShortcut(nn.Module):
    """Option A: subsample spatially and append zero channels; adds no parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: int, norm: bool = True,
                  dilation: int = 1) -> nn.Module:
    """Identity when the shape is kept, else option A (zeropad), B (projection) or ResNet-D (avgpool).

    `norm=False` drops the BatchNorm after the projection (pre-activation networks). `dilation` > 1 marks the
    first block of a stage whose stride became dilation (output_stride < 32).
    """
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "zeropad":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    layers: list[nn.Module] = []
    conv_stride = stride
    if kind == "avgpool":
        # ResNet-D: a 1x1 conv with stride 2 ignores 3/4 of its input; average first, then project
        if stride > 1:
            pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False)
        elif dilation > 1:
            # the dilated stage keeps the 2x2 average, at stride 1 with the size kept by one zero row and column
            # at the far edges, as timm's dilated ResNet-D does, so its checkpoints give the same outputs
            pool = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.AvgPool2d(2, 1))
        else:
            pool = nn.Identity()
        layers.append(pool)
        conv_stride = 1
    elif kind != "projection":
        raise ValueError(f"unknown shortcut {kind!r}; choose projection, avgpool or zeropad")
    layers.append(nn.Conv2d(in_channels, out_channels, 1, conv_stride, bias=False))
    if norm:
        layers.append(nn.BatchNorm2d(out_channels))
    return nn.Sequential(*layers)
