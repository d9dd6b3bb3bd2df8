"""One builder for every ResNet variant: `ResNet(spec)`.

Module names follow the layout timm and torchvision share (conv1, bn1, layer1..N, fc; blocks with
conv1/bn1/..., se, downsample), so their ResNet checkpoints load without renaming.
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers import DropPath, SeparableConv2d, make_act, make_attention, make_shortcut
from ..spec import ResNetSpec


def conv3x3(spec: ResNetSpec, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1) -> nn.Module:
    """The spatial convolution of a block, as chosen by `spec.conv3x3`."""
    if spec.conv3x3 == "separable":
        return SeparableConv2d(in_channels, out_channels, stride)
    return nn.Conv2d(in_channels, out_channels, 3, stride, 1, groups=groups, bias=False)


def _norm_or_identity(channels: int, present: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if present else nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (He et al. 2015, Fig. 2), post- or pre-activation."""

    def __init__(self, spec: ResNetSpec, in_channels: int, planes: int, stride: int, drop_path: float):
        super().__init__()
        out_channels = planes * spec.expansion
        self.preact = spec.preact
        # pre-activation normalises the block input; post-activation normalises each conv output
        self.bn0 = _norm_or_identity(in_channels, spec.preact)
        self.act0 = make_act(spec.act) if spec.preact else nn.Identity()
        self.conv1 = conv3x3(spec, in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = make_act(spec.act)
        self.conv2 = conv3x3(spec, planes, out_channels)
        self.bn2 = _norm_or_identity(out_channels, not spec.preact)
        self.se = make_attention(spec.attention, out_channels, spec.attention_ratio, spec.attention_divisor, spec.act)
        self.downsample = make_shortcut(spec.shortcut, in_channels, out_channels, stride, norm=not spec.preact)
        self.drop_path = DropPath(drop_path)
        # pre-activation: a projection sees the normalised input, an identity keeps the raw one (He et al. 2016)
        self.project_preact = spec.preact and not isinstance(self.downsample, nn.Identity)
        self.act2 = nn.Identity() if spec.preact else make_act(spec.act)

    def branch_end(self) -> nn.Module:
        return self.conv2 if self.preact else self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.act0(self.bn0(x))
        shortcut = self.downsample(x_in if self.project_preact else x)
        out = self.act1(self.bn1(self.conv1(x_in)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.act2(self.drop_path(out) + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, (grouped) 3x3, 1x1 expand (He et al. 2015 Fig. 5; ResNeXt; Wide ResNet)."""

    def __init__(self, spec: ResNetSpec, in_channels: int, planes: int, stride: int, drop_path: float):
        super().__init__()
        width = spec.bottleneck_width(planes)
        out_channels = planes * spec.expansion
        # ResNet-B moves the stride to the 3x3 so the 1x1 does not skip 3/4 of its input (He et al. 2019, 4.1)
        stride_1x1, stride_3x3 = (stride, 1) if spec.stride_on == "1x1" else (1, stride)
        self.preact = spec.preact
        self.bn0 = _norm_or_identity(in_channels, spec.preact)
        self.act0 = make_act(spec.act) if spec.preact else nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride_1x1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.act1 = make_act(spec.act)
        self.conv2 = conv3x3(spec, width, width, stride_3x3, spec.groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.act2 = make_act(spec.act)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = _norm_or_identity(out_channels, not spec.preact)
        self.se = make_attention(spec.attention, out_channels, spec.attention_ratio, spec.attention_divisor, spec.act)
        self.downsample = make_shortcut(spec.shortcut, in_channels, out_channels, stride, norm=not spec.preact)
        self.drop_path = DropPath(drop_path)
        # pre-activation: a projection sees the normalised input, an identity keeps the raw one (He et al. 2016)
        self.project_preact = spec.preact and not isinstance(self.downsample, nn.Identity)
        self.act3 = nn.Identity() if spec.preact else make_act(spec.act)

    def branch_end(self) -> nn.Module:
        return self.conv3 if self.preact else self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = self.act0(self.bn0(x))
        shortcut = self.downsample(x_in if self.project_preact else x)
        out = self.act1(self.bn1(self.conv1(x_in)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.act3(self.drop_path(out) + shortcut)


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def make_stem_conv(spec: ResNetSpec) -> nn.Module:
    if spec.stem == "conv7":
        return nn.Conv2d(spec.in_chans, spec.stem_channels, 7, 2, 3, bias=False)
    if spec.stem == "cifar":
        return nn.Conv2d(spec.in_chans, spec.stem_channels, 3, 1, 1, bias=False)
    # ResNet-C: three 3x3 convolutions cost about the same as one 7x7 and see the same field (He et al. 2019, 4.2)
    w = spec.stem_width
    return nn.Sequential(
        nn.Conv2d(spec.in_chans, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), make_act(spec.act),
        nn.Conv2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), make_act(spec.act),
        nn.Conv2d(w, spec.stem_channels, 3, 1, 1, bias=False),
    )


def make_stem_pool(kind: str) -> nn.Module:
    if kind == "max":
        return nn.MaxPool2d(3, 2, 1)
    if kind == "max_ceil":
        return nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Identity()


class ResNet(nn.Module):
    """Stem, stages of residual blocks, global average pool, linear classifier."""

    def __init__(self, spec: ResNetSpec):
        super().__init__()
        self.spec = spec
        # pre-activation nets normalise inside the first block, so the stem is a bare convolution
        self.conv1 = make_stem_conv(spec)
        self.bn1 = _norm_or_identity(spec.stem_channels, not spec.preact)
        self.act1 = nn.Identity() if spec.preact else make_act(spec.act)
        self.maxpool = make_stem_pool(spec.stem_pool)

        block_cls = BLOCKS[spec.block]
        total, index = sum(spec.depths), 0
        in_channels = spec.stem_channels
        for s, (depth, planes, stride) in enumerate(zip(spec.depths, spec.widths, spec.strides)):
            blocks = []
            for b in range(depth):
                rate = spec.drop_path_rate * index / max(total - 1, 1)
                blocks.append(block_cls(spec, in_channels, planes, stride if b == 0 else 1, rate))
                in_channels, index = planes * spec.expansion, index + 1
            self.add_module(f"layer{s + 1}", nn.Sequential(*blocks))

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
        x = self.forward_stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.act(self.norm(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(x.mean((2, 3)))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
