"""ConvNeXt (Liu et al. 2022) and ConvNeXt-V2 (Woo et al. 2023): the builder of their spec (spec/convnext.py).

One block class covers the whole walk of the paper's Fig. 2, from a ResNet-50 bottleneck to the ConvNeXt block:
the spec says where the spatial conv sits, how wide the hidden layers are, and which norms and activations there
are. Module names follow timm's ConvNeXt (stem, stages.i.downsample, stages.i.blocks.j.conv_dw/norm), so
its checkpoints need only a few renames (convnext_layouts.py).
"""
from __future__ import annotations

import torch
from torch import nn

from ..layers import DropPath, GlobalResponseNorm, LayerNorm2d, LayerScale, make_act
from ..layers.patchify import DownsampleLayer, PatchifyStem
from ..spec.convnext import ConvNeXtSpec
from .convnext_layouts import RULES
from .protocol import FamilyModel


def make_norm(spec: ConvNeXtSpec, channels: int) -> nn.Module:
    return LayerNorm2d(channels) if spec.norm == "layer" else nn.BatchNorm2d(channels)


class ConvNeXtBlock(nn.Module):
    """Spatial k x k conv and two 1x1 convs on a residual branch, in the order, with the norms and activations,
    that the spec asks for; a strided first block of an in-block-downsampling stage also projects its shortcut."""

    def __init__(self, spec: ConvNeXtSpec, in_channels: int, out_channels: int, hidden: int, stride: int,
                 drop_path: float):
        super().__init__()
        spatial = in_channels if spec.spatial_first else hidden
        groups = spatial // spec.group_width if spec.group_width else 1
        every_norm, every_act, bias = spec.block_norms == "every", spec.block_acts == "every", spec.conv_bias
        self.conv_dw = nn.Conv2d(spatial, spatial, spec.kernel_size, stride, spec.kernel_size // 2, groups=groups,
                                 bias=bias)
        self.norm = make_norm(spec, spatial)
        self.fc1 = nn.Conv2d(in_channels, hidden, 1, stride=1, bias=bias)
        self.norm1 = make_norm(spec, hidden) if every_norm else nn.Identity()
        self.fc2 = nn.Conv2d(hidden, out_channels, 1, bias=bias)
        self.norm2 = make_norm(spec, out_channels) if every_norm else nn.Identity()
        # "one" activation sits before the last 1x1 conv: after fc1 when the spatial conv comes first, else after it
        self.act_dw = make_act(spec.act) if every_act or not spec.spatial_first else nn.Identity()
        self.act1 = make_act(spec.act) if every_act or spec.spatial_first else nn.Identity()
        self.grn = GlobalResponseNorm(hidden) if spec.grn else nn.Identity()
        self.layer_scale = LayerScale(out_channels, spec.layer_scale) if spec.layer_scale else nn.Identity()
        self.drop_path = DropPath(drop_path)
        self.downsample = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=bias),
                                            make_norm(spec, out_channels))
        self.act_out = make_act(spec.act) if every_act else nn.Identity()
        spatial_part = ("conv_dw", "norm", "act_dw")
        pointwise_in = ("fc1", "norm1", "act1")
        order = spatial_part + pointwise_in if spec.spatial_first else pointwise_in + spatial_part
        self.order = order + ("grn", "fc2", "norm2", "layer_scale", "drop_path")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for name in self.order:
            y = getattr(self, name)(y)
        return self.act_out(y + self.downsample(x))


class ConvNeXtStage(nn.Module):
    """The downsampling layer into the stage (an Identity for the first, or with in-block downsampling), then
    the blocks."""

    def __init__(self, downsample: nn.Module, blocks: list[nn.Module]):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class ConvNeXt(FamilyModel):
    """Stem, stages, global average pool, optional LayerNorm, linear classifier."""

    spec_type = ConvNeXtSpec
    checkpoints = RULES  # convnext_layouts.py

    def __init__(self, spec: ConvNeXtSpec):
        super().__init__(spec)
        if spec.stem == "patchify":
            self.stem = PatchifyStem(spec.in_chans, spec.stem_channels, make_norm(spec, spec.stem_channels),
                                     bias=spec.conv_bias)
        else:  # ResNet's stem (He et al. 2015, Table 1)
            self.stem = nn.Sequential(nn.Conv2d(spec.in_chans, spec.stem_channels, 7, 2, 3, bias=spec.conv_bias),
                                      make_norm(spec, spec.stem_channels), make_act(spec.act),
                                      nn.MaxPool2d(3, 2, 1))
        self.add_feature("stem", spec.stem_channels, 4)
        total = sum(spec.depths)
        rates = [spec.drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # rising linearly with depth
        self.stages = nn.ModuleList(self._make_stage(spec, i, rates) for i in range(spec.num_stages))
        self.num_features = spec.num_features
        self.head_norm = LayerNorm2d(spec.num_features) if spec.head_norm else nn.Identity()
        self.drop = nn.Dropout(spec.drop_rate)
        self.fc = nn.Linear(spec.num_features, spec.num_classes)
        self.reset_parameters()

    def _make_stage(self, spec: ConvNeXtSpec, i: int, rates: list[float]) -> ConvNeXtStage:
        channels = spec.stem_channels if i == 0 else spec.dims[i - 1]
        out, stride = spec.dims[i], 1 if i == 0 else 2
        downsample = nn.Identity()
        if spec.downsample == "separate" and i > 0:
            downsample = DownsampleLayer(channels, out, make_norm(spec, channels), bias=spec.conv_bias)
            channels, stride = out, 1
        first = sum(spec.depths[:i])
        blocks = [ConvNeXtBlock(spec, channels if j == 0 else out, out, spec.hidden_width(i), stride if j == 0 else 1,
                                rates[first + j]) for j in range(spec.depths[i])]
        self.add_feature(f"stage{i + 1}", out, 4 * 2 ** i)
        return ConvNeXtStage(downsample, blocks)

    @property
    def stages(self) -> nn.ModuleList:
        """The registered stages themselves (the protocol's property would hide the submodule of that name)."""
        return self._modules["stages"]

    def reset_parameters(self) -> None:
        """ConvNeXt's initialisation: truncated normal (std 0.02) weights, zero biases, unit norms."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.head_norm(x.mean((2, 3), keepdim=True)).flatten(1))
        return x if pre_logits else self.fc(x)
