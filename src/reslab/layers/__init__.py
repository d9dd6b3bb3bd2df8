"""Small composable layers shared by every model family."""
from .activation import make_act
from .attention import (ConvolutionalBlockAttention, EfficientChannelAttention, SqueezeExcite, make_attention,
                        reduced_channels)
from .drop_path import DropPath
from .separable import SeparableConv2d
from .shortcut import ZeroPadShortcut, make_shortcut

__all__ = ["make_act", "make_attention", "reduced_channels", "SqueezeExcite", "EfficientChannelAttention",
           "ConvolutionalBlockAttention", "DropPath", "SeparableConv2d", "ZeroPadShortcut", "make_shortcut"]
