"""Small composable layers shared by every model family."""
from .activation import make_act
from .attention import (ConvolutionalBlockAttention, EfficientChannelAttention, SqueezeExcite, make_attention,
                        reduced_channels)
from .blur_pool import BlurPool2d
from .drop_path import DropPath
from .grn import GlobalResponseNorm
from .layer_norm import LayerNorm2d
from .layer_scale import LayerScale
from .res2 import Res2Conv
from ..spec.rounding import make_divisible
from .selective_kernel import SelectiveKernelConv
from .separable import SeparableConv2d
from .shortcut import ZeroPadShortcut, make_shortcut
from .space_to_depth import SpaceToDepth
from .split_attention import SplitAttention

__all__ = ["make_act", "make_attention", "reduced_channels", "SqueezeExcite", "EfficientChannelAttention",
           "ConvolutionalBlockAttention", "DropPath", "SeparableConv2d", "ZeroPadShortcut", "make_shortcut",
           "BlurPool2d", "Res2Conv", "make_divisible", "SelectiveKernelConv", "SplitAttention",
           "SpaceToDepth", "GlobalResponseNorm", "LayerNorm2d", "LayerScale"]
