"""One builder for every ResNet variant: `ResNet(spec)`.

Module names follow the layout timm and torchvision share (conv1, bn1, layer1..N, fc; blocks with
conv1/bn1/..., se, downsample), so their ResNet checkpoints load without renaming.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers import (BlurPool2d, DropPath, Res2Conv, SelectiveKernelConv, SeparableConv2d, SpaceToDepth,
                      SplitAttention, make_act, make_attention, make_divisible, make_shortcut, reduced_channels)
from ..spec import ResNetSpec
from .protocol import FamilyModel
from .resnet_layouts import RULES

# these 3x3 replacements end in their own BatchNorm and activation, so the block adds none after them
SELF_NORMALISING = ("res2", "selective_kernel", "split_attention")


def conv3x3(spec: ResNetSpec, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1,
            dilation: int = 1, kind: str | None = None, first: bool = False) -> nn.Module:
    """The spatial convolution of a block, as chosen by `spec.conv3x3` (or `kind`)."""
    kind = kind or spec.conv3x3
    if kind == "separable":
        return SeparableConv2d(in_channels, out_channels, stride, dilation=dilation)
    if kind == "res2":
        return Res2Conv(in_channels // spec.scale, spec.scale, stride, groups, dilation, first, spec.act)
    if kind == "selective_kernel":
        hidden = make_divisible(out_channels * spec.select_ratio, spec.select_divisor)
        return SelectiveKernelConv(in_channels, out_channels, stride, groups, dilation, spec.radix, hidden,
                                   spec.split_input, spec.act)
    if kind == "split_attention":
        # ResNeSt keeps at least 32 attention channels (Zhang et al. 2020, reference code)
        hidden = make_divisible(in_channels * spec.radix * spec.select_ratio, spec.select_divisor, minimum=32)
        return SplitAttention(in_channels, out_channels, stride, groups, dilation, spec.radix, hidden, spec.act)
    return nn.Conv2d(in_channels, out_channels, 3, stride, dilation, dilation, groups=groups, bias=False)


def downsample_pool(spec: ResNetSpec, channels: int, stride: int) -> nn.Module:
    """The pool that carries a block's stride when `stride_on` is a pool position."""
    if stride == 1:
        return nn.Identity()
    if spec.downsample_pool == "avg3":
        return nn.AvgPool2d(3, stride, 1)
    if spec.downsample_pool == "avg2":
        return nn.AvgPool2d(stride)
    return BlurPool2d(channels, stride)


def place_stride(spec: ResNetSpec, stride: int) -> tuple[int, int, int, int]:
    """Stride of (first 1x1, pool before the 3x3, 3x3, pool after the 3x3) for a block of stride `stride`."""
    if spec.stride_on == "1x1":
        return stride, 1, 1, 1
    if spec.stride_on == "pool_before_3x3":
        return 1, stride, 1, 1
    if spec.stride_on == "pool_after_3x3":
        return 1, 1, 1, stride
    return 1, 1, stride, 1


def _norm_or_identity(channels: int, present: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if present else nn.Identity()


def block_attention(spec: ResNetSpec, stage: int, in_channels: int, out_channels: int, gated: int) -> nn.Module:
    """The attention gate of a block in `stage` on `gated` channels, reduced from `spec.attention_base`'s."""
    base = {"gated": gated, "block_input": in_channels, "block_output": out_channels}[spec.attention_base]
    hidden = reduced_channels(base, spec.at("attention_ratio", stage), spec.attention_divisor,
                              spec.attention_min_channels)
    return make_attention(spec.at("attention", stage), gated, hidden)


def add_shortcut(branch: torch.Tensor, shortcut: torch.Tensor | None) -> torch.Tensor:
    """The residual addition, written into the branch output: no block's last op (conv, norm, gate, drop-path)
    keeps its output for backward, and a fresh activation-sized tensor per block costs time and memory.
    A plain block (no shortcut) returns its branch."""
    if shortcut is not None:
        branch += shortcut
    return branch


def block_shortcut(spec: ResNetSpec, in_channels: int, out_channels: int, stride: int, dilation: int):
    """The block's shortcut module, or None in a plain network (residual=False)."""
    if not spec.residual:
        return None
    return make_shortcut(spec.shortcut, in_channels, out_channels, stride, norm=not spec.preact, dilation=dilation,
                         zeropad_side=spec.zeropad_side)


def residual_act(spec: ResNetSpec) -> nn.Module:
    """The activation after the residual addition (none in pre-activation blocks)."""
    return nn.Identity() if spec.preact else make_act(spec.residual_act or spec.act)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (He et al. 2015, Fig. 2), post- or pre-activation."""

    def __init__(self, spec: ResNetSpec, in_channels: int, planes: int, stride: int, drop_path: float,
                 dilation: tuple[int, int] = (1, 1), stage: int = 0):
        super().__init__()
        out_channels = planes * spec.at("expansion", stage)
        _, pool_before, stride_3x3, pool_after = place_stride(spec, stride)
        self.preact = spec.preact
        # pre-activation normalises the block input; post-activation normalises each conv output
        self.bn0 = _norm_or_identity(in_channels, spec.preact)
        self.act0 = make_act(spec.act) if spec.preact else nn.Identity()
        self.pool_before = downsample_pool(spec, in_channels, pool_before)
        self.conv1 = conv3x3(spec, in_channels, planes, stride_3x3, dilation=dilation[0])
        own_norm = spec.conv3x3 in SELF_NORMALISING
        self.bn1 = _norm_or_identity(planes, not own_norm)
        self.act1 = nn.Identity() if own_norm else make_act(spec.act)
        self.pool_after = downsample_pool(spec, planes, pool_after)
        second = "separable" if spec.conv3x3 == "separable" else "standard"
        self.conv2 = conv3x3(spec, planes, out_channels, dilation=dilation[1], kind=second)
        self.bn2 = _norm_or_identity(out_channels, not spec.preact)
        self.se = block_attention(spec, stage, in_channels, out_channels, out_channels)
        self.downsample = block_shortcut(spec, in_channels, out_channels, stride, dilation[1])
        self.drop_path = DropPath(drop_path)
        # pre-activation: a projection sees the normalised input, an identity keeps the raw one (He et al. 2016)
        self.project_preact = spec.preact and not isinstance(self.downsample, (nn.Identity, type(None)))
        self.act2 = residual_act(spec)

    def branch_end(self) -> nn.Module:
        return self.conv2 if self.preact else self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.act0(self.bn0(x))
        shortcut = None if self.downsample is None else self.downsample(x_in if self.project_preact else x)
        out = self.act1(self.bn1(self.conv1(self.pool_before(x_in))))
        out = self.se(self.bn2(self.conv2(self.pool_after(out))))
        return self.act2(add_shortcut(self.drop_path(out), shortcut))


class Bottleneck(nn.Module):
    """1x1 reduce, (grouped) 3x3, 1x1 expand (He et al. 2015 Fig. 5; ResNeXt; Wide ResNet)."""

    def __init__(self, spec: ResNetSpec, in_channels: int, planes: int, stride: int, drop_path: float,
                 dilation: tuple[int, int] = (1, 1), stage: int = 0):
        super().__init__()
        # Res2Net widens the reduced channels to `scale` splits of the bottleneck width (Gao et al. 2019, Fig. 2)
        width = spec.bottleneck_width(planes, stage) * (spec.scale if spec.conv3x3 == "res2" else 1)
        out_channels = planes * spec.at("expansion", stage)
        # ResNet-B moves the stride to the 3x3 so the 1x1 does not skip 3/4 of its input (He et al. 2019, 4.1)
        stride_1x1, pool_before, stride_3x3, pool_after = place_stride(spec, stride)
        self.preact = spec.preact
        self.bn0 = _norm_or_identity(in_channels, spec.preact)
        self.act0 = make_act(spec.act) if spec.preact else nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride_1x1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = make_act(spec.act)
        self.pool_before = downsample_pool(spec, width, pool_before)
        first = stride > 1 or in_channels != out_channels
        self.conv2 = conv3x3(spec, width, width, stride_3x3, spec.groups_at(stage), dilation[0], first=first)
        own_norm = spec.conv3x3 in SELF_NORMALISING
        self.bn2 = _norm_or_identity(width, not own_norm)
        self.act2 = nn.Identity() if own_norm else make_act(spec.act)
        self.pool_after = downsample_pool(spec, width, pool_after)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = _norm_or_identity(out_channels, not spec.preact)
        self.se_after_3x3 = spec.attention_position == "3x3"
        self.se = block_attention(spec, stage, in_channels, out_channels, width if self.se_after_3x3 else out_channels)
        self.downsample = block_shortcut(spec, in_channels, out_channels, stride, dilation[1])
        self.drop_path = DropPath(drop_path)
        # pre-activation: a projection sees the normalised input, an identity keeps the raw one (He et al. 2016)
        self.project_preact = spec.preact and not isinstance(self.downsample, (nn.Identity, type(None)))
        self.act3 = residual_act(spec)

    def branch_end(self) -> nn.Module:
        return self.conv3 if self.preact else self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.act0(self.bn0(x))
        shortcut = None if self.downsample is None else self.downsample(x_in if self.project_preact else x)
        out = self.act1(self.bn1(self.conv1(x_in)))
        out = self.pool_after(self.act2(self.bn2(self.conv2(self.pool_before(out)))))
        if self.se_after_3x3:
            out = self.bn3(self.conv3(self.se(out)))
        else:
            out = self.se(self.bn3(self.conv3(out)))
        return self.act3(add_shortcut(self.drop_path(out), shortcut))


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def make_stem_conv(spec: ResNetSpec) -> nn.Module:
    if spec.stem == "conv7":
        return nn.Conv2d(spec.in_chans, spec.stem_channels, 7, 2, 3, bias=False)
    if spec.stem == "cifar":
        return nn.Conv2d(spec.in_chans, spec.stem_channels, 3, 1, 1, bias=False)
    if spec.stem == "conv3":
        return nn.Conv2d(spec.in_chans, spec.stem_channels, 3, 2, 1, bias=False)
    if spec.stem == "space_to_depth":
        return nn.Sequential(SpaceToDepth(4), nn.Conv2d(16 * spec.in_chans, spec.stem_channels, 3, 1, 1, bias=False))
    # ResNet-C: three 3x3 convolutions cost about the same as one 7x7 and see the same field (He et al. 2019, 4.2)
    w = spec.stem_width
    return nn.Sequential(
        nn.Conv2d(spec.in_chans, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), stem_act(spec),
        nn.Conv2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), stem_act(spec),
        nn.Conv2d(w, spec.stem_channels, 3, 1, 1, bias=False),
    )


def stem_act(spec: ResNetSpec) -> nn.Module:
    return make_act(spec.stem_act or spec.act)


def make_stem_pool(spec: ResNetSpec) -> nn.Module:
    kind, channels = spec.stem_pool, spec.stem_channels
    if kind == "max":
        return nn.MaxPool2d(3, 2, 1)
    if kind == "max_ceil":
        return nn.MaxPool2d(3, 2, ceil_mode=True)
    if kind == "conv":
        # ResNet-RS replaces the max pool by a learned strided 3x3 (Bello et al. 2021, Sec. 4.1)
        return nn.Sequential(nn.Conv2d(channels, channels, 3, 2, 1, bias=False), nn.BatchNorm2d(channels),
                             stem_act(spec))
    if kind == "avg2":
        return nn.AvgPool2d(2)
    if kind == "max_blur":
        # max at stride 1, then blur before subsampling (Zhang 2019, Sec. 3: "MaxBlurPool")
        return nn.Sequential(nn.MaxPool2d(3, 1, 1), BlurPool2d(channels, 2))
    return nn.Identity()


class ResNet(FamilyModel):
    """Stem, stages of residual blocks, global average pool, linear classifier."""

    spec_type = ResNetSpec
    checkpoints = RULES  # resnet_layouts.py

    def __init__(self, spec: ResNetSpec):
        super().__init__(spec)
        # pre-activation nets normalise inside the first block, so the stem is a bare convolution
        self.conv1 = make_stem_conv(spec)
        self.bn1 = _norm_or_identity(spec.stem_channels, not spec.preact)
        self.act1 = nn.Identity() if spec.preact else stem_act(spec)
        self.maxpool = make_stem_pool(spec)
        self.add_feature("stem", spec.stem_channels, spec.stem_stride)

        total, index = sum(spec.depths), 0
        in_channels = spec.stem_channels
        previous_dilation, reduction = 1, spec.stem_stride
        stages = zip(spec.depths, spec.widths, spec.stage_strides_and_dilations())
        for s, (depth, planes, (stride, dilation)) in enumerate(stages):
            blocks = []
            for b in range(depth):
                rate = spec.drop_path_rate * index / max(total - 1, 1)
                # a dilated stage's first block still sees the previous scale (as DeepLab and timm do)
                first_dilation = previous_dilation if b == 0 else dilation
                blocks.append(BLOCKS[spec.at("block", s)](spec, in_channels, planes, stride if b == 0 else 1, rate,
                                        (first_dilation, dilation), stage=s))
                in_channels, index = planes * spec.at("expansion", s), index + 1
            self.add_module(f"layer{s + 1}", nn.Sequential(*blocks))
            previous_dilation, reduction = dilation, reduction * stride
            self.add_feature(f"stage{s + 1}", in_channels, reduction)

        self.norm = _norm_or_identity(in_channels, spec.preact)  # pre-activation: the last block ends on a conv
        self.act = make_act(spec.act) if spec.preact else nn.Identity()
        self.num_features = in_channels
        self.drop = nn.Dropout(spec.drop_rate)
        self.fc = nn.Linear(in_channels, spec.num_classes) if spec.num_classes else nn.Identity()
        self.reset_parameters()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.spec.num_stages)]

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.spec.zero_init_last:
            # each block starts as the identity, which eases early training (Goyal et al. 2017, Sec. 5.1)
            for stage in self.stages:
                for block in stage:
                    nn.init.zeros_(block.branch_end().weight)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.act1(self.bn1(self.conv1(x))))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(super().forward_features(x)))
