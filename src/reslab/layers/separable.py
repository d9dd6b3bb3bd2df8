"""Depthwise-separable convolution (Chollet 2017): a per-channel 3x3 followed by a 1x1 across channels."""
from torch import nn


class SeparableConv2d(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3, dilation: int = 1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, dilation * (kernel_size // 2),
                                   dilation, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
