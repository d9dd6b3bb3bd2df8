"""The three ways a residual shortcut can change shape (He et al. 2015 Sec. 3.3; He et al. 2019 Sec. 4.1)."""
import torch
import torch.nn.functional as F
from torch import nn


class ZeroPadShortcut(nn.Module):
    """Option A: subsample spatially (every `stride`-th pixel) and add zero channels; adds no parameters.

    `side="end"` appends the zero channels after the identity channels; `side="both"` puts extra // 2 before and
    the rest after, as the widely used third-party CIFAR ResNets (and their checkpoints) do.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, side: str = "end"):
        super().__init__()
        if side not in ("end", "both"):
            raise ValueError(f"unknown zero-padding side {side!r}; choose end or both")
        self.extra, self.stride, self.side = out_channels - in_channels, stride, side
        before = self.extra // 2 if side == "both" else 0
        self.pad = (before, self.extra - before)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0) + self.pad) if self.extra else x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra={self.extra}, side={self.side!r}"


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: int, norm: bool = True,
                  dilation: int = 1, zeropad_side: str = "end") -> nn.Module:
    """Identity when the shape is kept, else option A (zeropad), B (projection) or ResNet-D (avgpool).

    `norm=False` drops the BatchNorm after the projection (pre-activation networks). `dilation` > 1 marks the
    first block of a stage whose stride became dilation (output_stride < 32). `zeropad_side` places option A's
    zero channels (see ZeroPadShortcut).
    """
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if kind == "zeropad":
        return ZeroPadShortcut(in_channels, out_channels, stride, zeropad_side)
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
