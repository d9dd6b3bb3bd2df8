"""Patchify stem and separate downsampling layer (Liu et al. 2022, ConvNeXt, Sec. 2.2 and 2.6): non-overlapping
strided convolutions, as a vision transformer cuts its input into patches."""
from torch import nn


class PatchifyStem(nn.Sequential):
    """A k x k convolution with stride k (k=4 in ConvNeXt), then a norm: each output pixel sees one image patch."""

    def __init__(self, in_chans: int, out_channels: int, norm: nn.Module, patch: int = 4, bias: bool = True):
        super().__init__(nn.Conv2d(in_chans, out_channels, patch, patch, bias=bias), norm)


class DownsampleLayer(nn.Sequential):
    """Between two stages: a norm (which keeps training stable where the resolution changes, Sec. 2.6), then a
    2x2 stride-2 convolution that halves the map and changes the width."""

    def __init__(self, in_channels: int, out_channels: int, norm: nn.Module, bias: bool = True):
        super().__init__(norm, nn.Conv2d(in_channels, out_channels, 2, 2, bias=bias))
