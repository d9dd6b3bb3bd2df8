"""ConvNeXt's spec (Liu et al. 2022, "A ConvNet for the 2020s"): its own family, with a field for each design
choice of the paper's walk from ResNet-50 (its Fig. 2), so that every step of that walk is one small spec change
and a ResNet-50 bottleneck network is a ConvNeXt spec too (presets/convnext.py, the roadmap)."""
from __future__ import annotations

from dataclasses import dataclass

from .base import (ACTIVATIONS, SpecBase, SpecError, check_bools, check_choice, check_positive_int_tuples,
                   check_positive_ints, check_rates, check_size, is_int)

STEMS = ("patchify", "conv7")
NORMS = ("layer", "batch")
DOWNSAMPLES = ("separate", "in_block")
PLACEMENTS = ("one", "every")


@dataclass(frozen=True)
class ConvNeXtSpec(SpecBase):
    """Every field of a ConvNeXt-family network. Defaults are ConvNeXt-T (timm's and torchvision's convnext_tiny)."""

    family = "convnext"
    tuple_fields = ("depths", "dims")

    depths: tuple[int, ...] = (3, 3, 9, 3)  # blocks per stage (1:1:3:1, Swin-T's ratio, Sec. 2.2)
    dims: tuple[int, ...] = (96, 192, 384, 768)  # channels of each stage's residual stream (its output)
    # patchify: 4x4 stride-4 conv + norm (Sec. 2.2); conv7: ResNet's 7x7/2 conv, norm, act, 3x3/2 max pool
    stem: str = "patchify"
    stem_channels: int = 96
    # hidden channels of a block / its output channels: 4 is the inverted bottleneck (Sec. 2.4), 0.25 ResNet's
    # bottleneck (a 256-channel block computes at 64)
    hidden_ratio: float = 4.0
    # True: the k x k conv opens the block, before the two 1x1s (Sec. 2.5, "moving up depthwise conv layer");
    # False: it sits between them, as in a ResNet bottleneck
    spatial_first: bool = True
    kernel_size: int = 7  # of the spatial conv (Sec. 2.5; ResNet's is 3)
    group_width: int = 1  # channels per group of the spatial conv: 1 depthwise (Sec. 2.3), 0 one group (ResNet)
    act: str = "gelu"
    # one: a single activation, before the last 1x1 (Sec. 2.6, as a transformer's MLP); every: after each conv
    # but the last, and after the residual addition (ResNet)
    block_acts: str = "one"
    # one: a single norm, after the spatial conv (Sec. 2.6); every: after each of the three convs (ResNet)
    block_norms: str = "one"
    norm: str = "layer"  # layer (LayerNorm over channels, Sec. 2.6) or batch
    conv_bias: bool = True  # biases on the convolutions (redundant, and absent in ResNet, when a BatchNorm follows)
    # separate: norm + 2x2/2 conv between stages (Sec. 2.6); in_block: a stage's first block strides its spatial
    # conv and projects its shortcut with a strided 1x1 conv + norm (ResNet)
    downsample: str = "separate"
    head_norm: bool = True  # a LayerNorm after the global pooling (Sec. 2.6: a norm wherever the resolution changes)
    layer_scale: float = 1e-6  # initial layer-scale factor on each residual branch; 0 = none (Sec. 2.1)
    grn: bool = False  # ConvNeXt-V2's global response norm after the activation (Woo et al. 2023)
    drop_path_rate: float = 0.0  # stochastic depth, rising linearly with block index to this rate
    drop_rate: float = 0.0  # dropout before the classifier
    output_stride: int = 32  # only 32: see validate_convnext
    num_classes: int = 1000
    in_chans: int = 3
    input_size: int = 224

    def __post_init__(self) -> None:
        self._lists_to_tuples()
        validate_convnext(self)

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def stage_channels(self) -> tuple[int, ...]:
        return self.dims

    @property
    def num_features(self) -> int:
        return self.dims[-1]

    def hidden_width(self, stage: int) -> int:
        return max(1, int(self.dims[stage] * self.hidden_ratio))

    def spatial_width(self, stage: int, first_block: bool) -> int:
        """Channels the spatial conv sees: the block's input (spatial first) or its hidden width."""
        if not self.spatial_first:
            return self.hidden_width(stage)
        entering = (self.stem_channels if stage == 0 else self.dims[stage - 1]) if first_block else self.dims[stage]
        return self.dims[stage] if self.downsample == "separate" else entering

    @property
    def min_input_size(self) -> int:
        return 4 * 2 ** (self.num_stages - 1)


def validate_convnext(spec: ConvNeXtSpec) -> None:
    """Raise SpecError naming the field(s) that make `spec` unbuildable."""
    check_choice("stem", spec.stem, STEMS)
    check_choice("norm", spec.norm, NORMS)
    check_choice("downsample", spec.downsample, DOWNSAMPLES)
    check_choice("block_acts", spec.block_acts, PLACEMENTS)
    check_choice("block_norms", spec.block_norms, PLACEMENTS)
    check_choice("act", spec.act, ACTIVATIONS)
    if not isinstance(spec.depths, tuple) or not spec.depths:
        raise SpecError("depths is empty: a convnext needs at least one stage")
    check_positive_int_tuples(spec, ("depths", "dims"))
    if len(spec.dims) != len(spec.depths):
        raise SpecError(f"dims has {len(spec.dims)} values but depths {len(spec.depths)}: give one per stage")
    check_positive_ints(spec, ("stem_channels", "kernel_size", "num_classes", "in_chans", "input_size"))
    check_bools(spec, ("spatial_first", "conv_bias", "head_norm", "grn"))
    check_rates(spec, ("drop_path_rate", "drop_rate"))
    if spec.kernel_size % 2 == 0:
        raise SpecError(f"kernel_size={spec.kernel_size} must be odd, so that padding keeps the map's size")
    if isinstance(spec.hidden_ratio, bool) or not isinstance(spec.hidden_ratio, (int, float)) or spec.hidden_ratio <= 0:
        raise SpecError(f"hidden_ratio must be a positive number, got {spec.hidden_ratio!r}")
    if isinstance(spec.layer_scale, bool) or not isinstance(spec.layer_scale, (int, float)) or spec.layer_scale < 0:
        raise SpecError(f"layer_scale must be a number >= 0 (0: no layer scale), got {spec.layer_scale!r}")
    if not is_int(spec.group_width) or spec.group_width < 0:
        raise SpecError(f"group_width must be 0 (one group) or a positive integer, got {spec.group_width!r}")
    if spec.downsample == "separate" and spec.stem_channels != spec.dims[0]:
        raise SpecError(f"stem_channels={spec.stem_channels} must equal dims[0]={spec.dims[0]} with "
                        "downsample='separate': the first stage has no layer that changes the width")
    if spec.output_stride != 32:
        raise SpecError(f"output_stride={spec.output_stride} is not supported: ConvNeXt's 2x2 stride-2 downsampling "
                        "convolutions would need asymmetric padding to trade their stride for dilation; use 32")
    for stage in range(spec.num_stages):
        for first in (True, False):
            width = spec.spatial_width(stage, first)
            if spec.group_width and width % spec.group_width:
                raise SpecError(f"group_width={spec.group_width} does not divide the {width} channels of stage "
                                f"{stage + 1}'s spatial conv")
    if spec.input_size < spec.min_input_size:
        raise SpecError(f"input_size={spec.input_size} is too small: {spec.num_stages} stages need at least "
                        f"{spec.min_input_size}")
    check_size(spec, sum(spec.depths), lambda: approx_params(spec), ("depths", "dims"))


def approx_params(spec: ConvNeXtSpec) -> int:
    """Roughly the parameters of the stem, the downsampling and block convolutions and the classifier: the size of
    a spec, known before anything is built."""
    c = spec.stem_channels
    total = 49 * spec.in_chans * c
    for s, (depth, d) in enumerate(zip(spec.depths, spec.dims)):
        spatial = spec.spatial_width(s, first_block=False)
        block = 2 * d * spec.hidden_width(s) + spec.kernel_size ** 2 * spatial * (spec.group_width or spatial)
        total += 4 * c * d + depth * block
        c = d
    return total + c * spec.num_classes
