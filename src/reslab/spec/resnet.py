"""The ResNet family's spec: every field of every ResNet-family network, from the 2015 original to TResNet.

Validation happens at construction, so an invalid spec never reaches the builder.
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import (ACTIVATIONS, SpecBase, SpecError, check_bools, check_choice, check_positive_int_tuples,
                   check_positive_ints, check_rates, check_size, is_int)

# Allowed values of the string-valued fields; the builder has one code path for each.
CHOICES: dict[str, tuple[str, ...]] = {
    "block": ("basic", "bottleneck"),
    "stem": ("conv7", "deep", "cifar", "conv3", "space_to_depth"),
    "stem_pool": ("max", "max_ceil", "none", "conv", "avg2", "max_blur"),
    "shortcut": ("projection", "avgpool", "zeropad"),
    "zeropad_side": ("end", "both"),
    "stride_on": ("1x1", "3x3", "pool_before_3x3", "pool_after_3x3"),
    "downsample_pool": ("avg3", "avg2", "blur"),
    "conv3x3": ("standard", "separable", "res2", "selective_kernel", "split_attention"),
    "attention": ("none", "se", "eca", "cbam"),
    "attention_position": ("output", "3x3"),
    "attention_base": ("gated", "block_input", "block_output"),
    "act": ACTIVATIONS,
    "stem_act": ("",) + ACTIVATIONS,  # "" = the same as act
    "residual_act": ("",) + ACTIVATIONS,
}
# fields that take one value for every stage or a tuple with one value per stage (TResNet mixes block types,
# RegNet group widths vary by stage, attention can sit in some stages only)
PER_STAGE = ("block", "expansion", "group_width", "attention", "attention_ratio")


@dataclass(frozen=True)
class ResNetSpec(SpecBase):
    """Every field of a ResNet-family network. Defaults are torchvision's/timm's ResNet-50."""

    family = "resnet"
    tuple_fields = ("depths", "widths", "strides") + PER_STAGE

    # body
    block: str | tuple[str, ...] = "bottleneck"  # basic (two 3x3) or bottleneck (1x1-3x3-1x1)
    depths: tuple[int, ...] = (3, 4, 6, 3)  # blocks per stage
    widths: tuple[int, ...] = (64, 128, 256, 512)  # per-stage "planes"; stage output = width * expansion
    expansion: int | tuple[int, ...] = 4  # output channels / planes (1 for basic blocks)
    strides: tuple[int, ...] = (1, 2, 2, 2)  # first-block stride of each stage
    preact: bool = False  # BN-ReLU-conv order of He et al. 2016 (Identity Mappings)
    # stem
    # conv7: 7x7/2; deep: three 3x3 (ResNet-C); cifar: one 3x3/1; conv3: one 3x3/2 (RegNet);
    # space_to_depth: 4x4 pixel blocks folded into channels, then one 3x3/1 (TResNet)
    stem: str = "conv7"
    stem_width: int = 32  # inner width of the deep stem
    stem_channels: int = 64  # stem output channels
    # max: 3x3/2 pad 1; max_ceil: 3x3/2 ceil-mode (Caffe, legacy SENet); none; conv: 3x3/2 conv-BN-act
    # (ResNet-RS); avg2: 2x2/2 average (anti-aliased ResNets); max_blur: 3x3/1 max then blur-pool/2
    stem_pool: str = "max"
    # False: no shortcut at all, the block's output is its branch alone (the plain baselines of He et al. 2015,
    # Sec. 4.1: same layers and parameters as their option-A residual twins); `shortcut` is then unused
    residual: bool = True
    # shortcut used when shape changes: projection (1x1 conv, option B), avgpool (ResNet-D), zeropad (option A)
    shortcut: str = "projection"
    # where option A puts its zero channels: end (after the identity channels) or both (added // 2 before, the
    # rest after, as the common third-party CIFAR ResNets' F.pad does); only with shortcut="zeropad"
    zeropad_side: str = "end"
    # where a bottleneck downsamples: "1x1" (2015 paper, ResNet-A) or "3x3" (ResNet-B, torchvision/timm)
    # or in a pool before/after an unstrided 3x3 (ResNeSt's avd, anti-aliased ResNets), using `downsample_pool`
    stride_on: str = "3x3"
    downsample_pool: str = "avg3"  # avg3: 3x3 average pad 1 (ResNeSt); avg2: 2x2 average; blur: binomial blur
    # 3x3 convolution in the block
    # standard; separable (depthwise 3x3 + pointwise 1x1); res2 (Res2Net multi-scale splits); selective_kernel
    # (SKNet); split_attention (ResNeSt). In a basic block the last three replace only the first 3x3.
    conv3x3: str = "standard"
    scale: int = 4  # res2: number of channel splits, each bottleneck_width wide
    radix: int = 2  # selective_kernel / split_attention: paths (splits) per group
    split_input: bool = False  # selective_kernel: each path sees 1/radix of the input channels
    select_ratio: float = 0.25  # hidden width of the path-selecting attention / its input channels
    select_divisor: int = 8  # ... rounded to a multiple of this
    groups: int = 1  # cardinality (ResNeXt)
    base_width: int = 64  # bottleneck width per group at planes=64 (ResNeXt "d", Wide ResNet 128)
    # channels per group of the 3x3, one value or one per stage (RegNet); 0 = use `groups` and `base_width` as
    # cardinality. When set, the bottleneck is planes * base_width / 64 wide and groups = width / group_width.
    group_width: int | tuple[int, ...] = 0
    # attention on the residual branch, before the addition
    attention: str | tuple[str, ...] = "none"
    # output: on the block's output (SENet); 3x3: right after the 3x3 of a bottleneck (RegNetY, TResNet); a basic
    # block ends on its 3x3, so there both mean the branch output
    attention_position: str = "output"
    attention_ratio: float | tuple[float, ...] = 1 / 16  # reduction of SE / CBAM channel MLPs
    # the channels the reduction applies to: the gated ones (SENet), the block's input (RegNetY, Radosavovic et al.
    # 2020 Sec. 5) or the block's output (TResNet)
    attention_base: str = "gated"
    attention_divisor: int = 8  # reduced channels are rounded to a multiple of this (1 = plain floor)
    attention_min_channels: int = 1  # ... and never fewer than this (TResNet: 64)
    # regularisation and init
    drop_path_rate: float = 0.0  # stochastic depth, rising linearly to this over the blocks
    drop_rate: float = 0.0  # dropout before the classifier
    zero_init_last: bool = False  # zero the last norm of each branch (Goyal et al. 2017; Bag of Tricks)
    act: str = "relu"
    stem_act: str = ""  # activation of the stem ("" = act)
    residual_act: str = ""  # activation after the residual addition ("" = act; TResNet: relu after leaky branches)
    # head and input
    num_classes: int = 1000
    in_chans: int = 3
    input_size: int = 224  # default (square) input resolution
    # total downsampling of the features; 16 or 8 trade the stride of the last stage(s) for dilation
    # (DeepLab, Chen et al. 2017 Sec. 3.1) so dense-prediction heads see finer feature maps
    output_stride: int = 32

    def __post_init__(self) -> None:
        self._lists_to_tuples()
        validate(self)

    # --- derived quantities -------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.depths)

    def at(self, name: str, stage: int):
        """The value of a PER_STAGE field in `stage` (0-based)."""
        value = getattr(self, name)
        return value[stage] if isinstance(value, tuple) else value

    def stage_values(self, name: str) -> tuple:
        return tuple(self.at(name, s) for s in range(self.num_stages))

    @property
    def stage_channels(self) -> tuple[int, ...]:
        return tuple(w * self.at("expansion", s) for s, w in enumerate(self.widths))

    @property
    def num_features(self) -> int:
        return self.stage_channels[-1]

    @property
    def stem_stride(self) -> int:
        conv = {"cifar": 1, "space_to_depth": 4}.get(self.stem, 2)
        return conv * (1 if self.stem_pool == "none" else 2)

    def stage_strides_and_dilations(self) -> tuple[tuple[int, int], ...]:
        """(stride, dilation) per stage once `output_stride` has moved late strides into dilation."""
        strides, dilations = list(self.strides), [1] * self.num_stages
        dilation, reached = 1, self.stem_stride
        for i, s in enumerate(self.strides):
            if reached * s > self.output_stride:
                dilation *= s
                strides[i] = 1
            else:
                reached *= s
            dilations[i] = dilation
        return tuple(zip(strides, dilations))

    def groups_at(self, stage: int) -> int:
        """Groups of the 3x3 in `stage`: the cardinality, or the bottleneck width over the group width."""
        gw = self.at("group_width", stage)
        return self.bottleneck_width(self.widths[stage], stage) // gw if gw else self.groups

    def bottleneck_width(self, planes: int, stage: int = 0) -> int:
        """Channels of the grouped 3x3 in a bottleneck (ResNeXt Eq. 4 / Wide ResNet / RegNet's b = base_width/64)."""
        per_group = int(planes * (self.base_width / 64))
        return per_group if self.at("group_width", stage) else per_group * self.groups


def validate(spec: ResNetSpec) -> None:
    """Raise SpecError naming the field(s) that make `spec` unbuildable."""
    n = len(spec.depths)
    if n == 0:
        raise SpecError("depths is empty: a network needs at least one stage")
    for name in ("widths", "strides") + PER_STAGE:
        value = getattr(spec, name)
        if isinstance(value, tuple) and len(value) != n:
            raise SpecError(f"{name} has {len(value)} entries but depths has {n}: give one per stage"
                            + ("" if name in ("widths", "strides") else ", or one value for all"))
    for name, allowed in CHOICES.items():
        for value in spec.stage_values(name) if name in PER_STAGE else (getattr(spec, name),):
            check_choice(name, value, allowed)
    check_positive_int_tuples(spec, ("depths", "widths", "strides"))
    check_positive_ints(spec, ("stem_width", "stem_channels", "groups", "base_width", "num_classes", "in_chans",
                               "input_size", "attention_divisor", "attention_min_channels", "scale", "radix",
                               "select_divisor", "output_stride"))
    check_bools(spec, ("residual", "preact", "split_input", "zero_init_last"))
    if any(not is_int(e) or e < 1 for e in spec.stage_values("expansion")):
        raise SpecError(f"expansion must be a positive integer (or one per stage), got {spec.expansion!r}")
    check_rates(spec, ("drop_path_rate", "drop_rate"))
    for name, values in (("attention_ratio", spec.stage_values("attention_ratio")),
                         ("select_ratio", (spec.select_ratio,))):
        if not all(0.0 < v <= 1.0 for v in values):
            raise SpecError(f"{name} must be in (0, 1], got {getattr(spec, name)}")
    basic = [s + 1 for s, b in enumerate(spec.stage_values("block")) if b == "basic"]
    if basic:
        if spec.groups != 1 or spec.base_width != 64:
            raise SpecError(f"block='basic' (stage {basic[0]}) supports only groups=1 and base_width=64; use "
                            f"block='bottleneck' for grouped or wide convolutions (got groups={spec.groups}, "
                            f"base_width={spec.base_width})")
        if spec.stride_on == "1x1":
            raise SpecError(f"stride_on='1x1' needs block='bottleneck': the basic block of stage {basic[0]} has no "
                            "1x1 convolution")
    if not spec.residual:
        for name in ("drop_path_rate", "zero_init_last"):  # both would silence a branch that is the whole block
            if getattr(spec, name):
                raise SpecError(f"{name}={getattr(spec, name)!r} needs residual=True: without a shortcut, a "
                                "dropped or zeroed branch would zero the block's whole output")
    if spec.shortcut == "zeropad":
        ins = (spec.stem_channels,) + spec.stage_channels[:-1]
        shrink = [i for i, (a, b) in enumerate(zip(ins, spec.stage_channels)) if b < a]
        if shrink:
            raise SpecError(f"shortcut='zeropad' cannot reduce channels (stage {shrink[0] + 1}); "
                            "use shortcut='projection'")
    _validate_block_options(spec, basic)
    if spec.groups > 1 and spec.conv3x3 == "separable":
        raise SpecError("conv3x3='separable' is already depthwise: set groups=1 (got groups="
                        f"{spec.groups})")
    _validate_group_width(spec, basic)
    for stage, w in enumerate(spec.widths):
        if stage + 1 not in basic and spec.bottleneck_width(w, stage) % spec.groups_at(stage):
            raise SpecError(f"bottleneck width {spec.bottleneck_width(w, stage)} of stage {stage + 1} is not "
                            f"divisible by groups={spec.groups}, group_width={spec.group_width}")
    check_size(spec, sum(spec.depths), lambda: approx_params(spec), ("depths", "widths"))


def approx_params(spec: ResNetSpec) -> int:
    """Roughly the parameters of the stem, the blocks' convolutions and the classifier (attention and the paths of
    SK/ResNeSt left out): the size of a spec, known before anything is built."""
    c = spec.stem_channels
    total = 9 * (spec.in_chans + spec.stem_width + c) * max(spec.stem_width, c)
    for s, (depth, w) in enumerate(zip(spec.depths, spec.widths)):
        out = w * spec.at("expansion", s)
        # the first block changes the width (and has a projection shortcut), the others keep it
        total += _block_params(spec, s, c, out) + c * out + (depth - 1) * _block_params(spec, s, out, out)
        c = out
    return total + c * spec.num_classes


def _block_params(spec: ResNetSpec, s: int, c_in: int, out: int) -> int:
    w = spec.widths[s]
    if spec.at("block", s) == "basic":
        return 9 * w * (c_in + out)
    b = spec.bottleneck_width(w, s)
    splits = spec.scale if spec.conv3x3 == "res2" else 1  # Res2Net: `scale` splits, each but one with a 3x3
    return b * splits * (c_in + out) + 9 * b * b * max(splits - 1, 1) // spec.groups_at(s)


def _validate_group_width(spec: ResNetSpec, basic: list[int]) -> None:
    gws = spec.stage_values("group_width")
    if any(not is_int(g) or g < 0 for g in gws):
        raise SpecError(f"group_width must be non-negative integers, got {spec.group_width}")
    if any(gws) and not all(gws):
        raise SpecError(f"group_width={spec.group_width}: give every stage a group width, or none")
    if any(gws) and spec.groups != 1:
        raise SpecError(f"group_width={spec.group_width} and groups={spec.groups} both set the 3x3's groups: "
                        "use one of them")
    if any(gws) and basic:
        raise SpecError(f"group_width={spec.group_width} needs block='bottleneck': the basic blocks of stage "
                        f"{basic[0]} are not grouped")


def _validate_block_options(spec: ResNetSpec, basic: list[int]) -> None:
    """Fields that only mean something for some block choices, and the choices that exclude each other."""
    defaults = ResNetSpec.__dataclass_fields__
    unused = []
    if spec.conv3x3 != "res2" and spec.scale != defaults["scale"].default:
        unused.append(("scale", "conv3x3='res2'"))
    if spec.conv3x3 not in ("selective_kernel", "split_attention"):
        unused += [(name, "conv3x3='selective_kernel' or 'split_attention'")
                   for name in ("radix", "select_ratio", "select_divisor")
                   if getattr(spec, name) != defaults[name].default]
    if spec.conv3x3 != "selective_kernel" and spec.split_input:
        unused.append(("split_input", "conv3x3='selective_kernel'"))
    if not spec.stride_on.startswith("pool") and spec.downsample_pool != defaults["downsample_pool"].default:
        unused.append(("downsample_pool", "stride_on='pool_before_3x3' or 'pool_after_3x3'"))
    if unused:
        name, needs = unused[0]
        raise SpecError(f"{name}={getattr(spec, name)!r} has no effect with conv3x3={spec.conv3x3!r}, "
                        f"stride_on={spec.stride_on!r}: it needs {needs}")
    if spec.shortcut != "zeropad" and spec.zeropad_side != defaults["zeropad_side"].default:
        raise SpecError(f"zeropad_side={spec.zeropad_side!r} has no effect with shortcut={spec.shortcut!r}: it "
                        "needs shortcut='zeropad'")
    attended = [b for b, a in zip(spec.stage_values("block"), spec.stage_values("attention")) if a != "none"]
    if spec.attention_position == "3x3" and "bottleneck" not in attended:
        raise SpecError(f"attention_position='3x3' needs attention in a stage of bottleneck blocks (got "
                        f"block={spec.block!r}, attention={spec.attention!r})")
    if spec.conv3x3 == "res2" and basic:
        raise SpecError(f"conv3x3='res2' needs block='bottleneck' (stage {basic[0]} is basic): Res2Net splits the "
                        "1x1-reduced channels")
    if spec.conv3x3 == "selective_kernel" and spec.radix < 2:
        raise SpecError(f"conv3x3='selective_kernel' needs radix >= 2 paths to select from (got radix={spec.radix})")
    if spec.split_input:
        # a basic block's first 3x3 sees the previous stage's channels, then its own stage's
        ins = (spec.stem_channels,) + spec.stage_channels
        inputs = [c for s, w in enumerate(spec.widths)
                  for c in ((ins[s], ins[s + 1]) if s + 1 in basic else (spec.bottleneck_width(w, s),))]
        if any(c % spec.radix for c in inputs):
            raise SpecError(f"split_input=True needs the selective-kernel inputs {inputs} divisible by "
                            f"radix={spec.radix}")
    if spec.output_stride & (spec.output_stride - 1) or spec.output_stride < spec.stem_stride:
        raise SpecError(f"output_stride={spec.output_stride} must be a power of two no smaller than the stem's "
                        f"stride {spec.stem_stride} (stem={spec.stem!r}, stem_pool={spec.stem_pool!r})")
