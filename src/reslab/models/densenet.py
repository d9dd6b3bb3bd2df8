"""DenseNet (Huang et al. 2017, "Densely Connected Convolutional Networks") as its own family: a spec and its builder.

Each layer receives the concatenation of every earlier feature map of its block instead of a sum, so a DenseNet
is not a ResNet spec with another block: it has its own spec. Module names follow torchvision's and timm's shared
layout (features.conv0, features.denseblockN.denselayerM.norm1/conv1/norm2/conv2, features.transitionN,
features.norm5, classifier), so their checkpoints load without renaming.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import make_act
from ..spec import CHOICES, SPEC_TYPES, SpecError
from . import BUILDERS

STEMS = ("conv7", "cifar")


@dataclass(frozen=True)
class DenseNetSpec:
    """Every field of a DenseNet. Defaults are DenseNet-121 (torchvision's and timm's `densenet121`)."""

    growth_rate: int = 32  # k: the channels each dense layer adds (Sec. 3, "Growth rate")
    block_config: tuple[int, ...] = (6, 12, 24, 16)  # dense layers per block; a transition follows all but the last
    bn_size: int = 4  # DenseNet-B: a 1x1 conv to bn_size * k channels before each 3x3 (Sec. 3, "Bottleneck layers")
    compression: float = 0.5  # DenseNet-C: theta, a transition keeps floor(theta * m) of m channels (Sec. 3)
    stem: str = "conv7"  # conv7: 7x7/2 conv, BN, ReLU, 3x3/2 max pool (ImageNet); cifar: one bare 3x3/1 conv
    stem_channels: int = 64  # num_init_features: 2k in DenseNet-BC
    layer_drop_rate: float = 0.0  # dropout on each dense layer's new channels (Sec. 4.2, runs without augmentation)
    # recompute each layer's concatenation and first BN-ReLU-conv in backward instead of storing them, so training
    # memory grows linearly, not quadratically, with block depth (Pleiss et al. 2017); same numbers, a bit slower
    memory_efficient: bool = False
    drop_rate: float = 0.0  # dropout before the classifier
    act: str = "relu"
    # head and input
    num_classes: int = 1000
    in_chans: int = 3
    input_size: int = 224  # default (square) input resolution

    def __post_init__(self) -> None:
        if isinstance(self.block_config, list):
            object.__setattr__(self, "block_config", tuple(self.block_config))
        validate_densenet(self)

    # --- derived quantities -------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.block_config)

    @property
    def stage_channels(self) -> tuple[int, ...]:
        """Output channels of each stage: the transition into it (all but the first), then its dense block."""
        channels, out = self.stem_channels, []
        for i, layers in enumerate(self.block_config):
            if i > 0:
                channels = transition_channels(channels, self.compression)
            channels += layers * self.growth_rate
            out.append(channels)
        return tuple(out)

    @property
    def num_features(self) -> int:
        return self.stage_channels[-1]

    @property
    def min_input_size(self) -> int:
        """The smallest input every transition's 2x2 pooling can still halve (to 1x1 after the last one)."""
        needed = 2 ** (self.num_stages - 1)  # side length entering the first dense block
        # the ImageNet stem leaves ceil(size / 4): 7x7/2 conv, then 3x3/2 max pool, both padded
        return 4 * needed - 3 if self.stem == "conv7" else needed

    # --- data ---------------------------------------------------------------------------
    def replace(self, **changes: Any) -> "DenseNetSpec":
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise SpecError(f"unknown densenet spec field(s) {unknown}; valid fields: {[f.name for f in fields(self)]}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"family": "densenet", **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def transition_channels(channels: int, compression: float) -> int:
    return int(channels * compression)


def validate_densenet(spec: DenseNetSpec) -> None:
    """Raise SpecError naming the field(s) that make `spec` unbuildable."""
    if spec.stem not in STEMS:
        raise SpecError(f"stem={spec.stem!r} is not one of {list(STEMS)} for a densenet")
    if spec.act not in CHOICES["act"]:
        raise SpecError(f"act={spec.act!r} is not one of {list(CHOICES['act'])}")
    if not isinstance(spec.block_config, tuple) or not spec.block_config:
        raise SpecError("block_config is empty: a densenet needs at least one dense block")
    if any(not isinstance(n, int) or n < 1 for n in spec.block_config):
        raise SpecError(f"block_config must be positive integers, got {list(spec.block_config)}")
    for name in ("growth_rate", "bn_size", "stem_channels", "num_classes", "in_chans", "input_size"):
        value = getattr(spec, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpecError(f"{name} must be a positive integer, got {value!r}")
    if not 0.0 < spec.compression <= 1.0:
        raise SpecError(f"compression must be in (0, 1] (1 keeps every channel), got {spec.compression}")
    for name in ("layer_drop_rate", "drop_rate"):
        if not 0.0 <= getattr(spec, name) < 1.0:
            raise SpecError(f"{name} must be in [0, 1), got {getattr(spec, name)}")
    if spec.input_size < spec.min_input_size:
        raise SpecError(f"input_size={spec.input_size} is too small: stem={spec.stem!r} with {spec.num_stages} "
                        f"dense blocks needs at least {spec.min_input_size}")
    channels = spec.stem_channels
    for i, layers in enumerate(spec.block_config[:-1]):
        channels += layers * spec.growth_rate
        if transition_channels(channels, spec.compression) < 1:
            raise SpecError(f"compression={spec.compression} leaves no channels after dense block {i + 1} "
                            f"({channels} channels in)")
        channels = transition_channels(channels, spec.compression)


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv to bn_size*k channels, then BN-ReLU-3x3 conv to k new channels (DenseNet-B, Sec. 3)."""

    def __init__(self, spec: DenseNetSpec, in_channels: int):
        super().__init__()
        width = spec.bn_size * spec.growth_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.act1 = make_act(spec.act)
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.act2 = make_act(spec.act)
        self.conv2 = nn.Conv2d(width, spec.growth_rate, 3, 1, 1, bias=False)
        self.drop = nn.Dropout(spec.layer_drop_rate)
        self.memory_efficient = spec.memory_efficient

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        if self.memory_efficient and self.training and any(f.requires_grad for f in features):
            out = checkpoint(self._bottleneck_recomputable(), *features, use_reentrant=False)
        else:
            out = self.conv1(self.act1(self.norm1(torch.cat(features, 1))))
        return self.drop(self.conv2(self.act2(self.norm2(out))))

    def _bottleneck_recomputable(self):
        """The bottleneck as a function whose second run (the backward's recompute) leaves BN's running stats alone."""
        calls = 0

        def bottleneck(*features: torch.Tensor) -> torch.Tensor:
            nonlocal calls
            x, calls = torch.cat(features, 1), calls + 1
            if calls == 1:
                x = self.norm1(x)
            else:  # same batch statistics; the running-average update goes to throwaway copies
                bn = self.norm1
                x = F.batch_norm(x, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias, True,
                                 0.0, bn.eps)
            return self.conv1(self.act1(x))

        return bottleneck


class DenseBlock(nn.Module):
    """Layers denselayer1..n; each sees the block input and every earlier layer's output, concatenated (Eq. 2)."""

    def __init__(self, spec: DenseNetSpec, in_channels: int, num_layers: int):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(spec, in_channels + i * spec.growth_rate))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.children():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Module):
    """Between blocks: BN-ReLU, a 1x1 conv that compresses the channels, 2x2 average pooling (Sec. 3)."""

    def __init__(self, spec: DenseNetSpec, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.act = make_act(spec.act)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(self.act(self.norm(x))))


class DenseNet(nn.Module):
    """Stem, dense blocks joined by transitions, final BN-ReLU, global average pool, linear classifier."""

    def __init__(self, spec: DenseNetSpec):
        super().__init__()
        self.spec = spec
        self.features = nn.Sequential()  # one sequence, named as in torchvision, so forward_features is one call
        if spec.stem == "conv7":
            self.features.add_module("conv0", nn.Conv2d(spec.in_chans, spec.stem_channels, 7, 2, 3, bias=False))
            self.features.add_module("norm0", nn.BatchNorm2d(spec.stem_channels))
            self.features.add_module("act0", make_act(spec.act))
            self.features.add_module("pool0", nn.MaxPool2d(3, 2, 1))
        else:
            # every dense layer normalises its own input, so the CIFAR stem is a bare convolution (Sec. 3)
            self.features.add_module("conv0", nn.Conv2d(spec.in_chans, spec.stem_channels, 3, 1, 1, bias=False))
        self._stem_names = [name for name, _ in self.features.named_children()]

        self._stage_names: list[list[str]] = []
        channels = spec.stem_channels
        for i, layers in enumerate(spec.block_config):
            # a stage opens with the transition that downsamples into it, like a ResNet stage's first block, so
            # stage outputs sit at reductions 4, 8, 16, 32 (timm's densenet feature_info)
            names = [f"transition{i}"] if i > 0 else []
            if i > 0:
                out = transition_channels(channels, spec.compression)
                self.features.add_module(f"transition{i}", Transition(spec, channels, out))
                channels = out
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(spec, channels, layers))
            channels += layers * spec.growth_rate
            self._stage_names.append(names + [f"denseblock{i + 1}"])
        # the layers are pre-activation, so the last block's output still needs BN-ReLU; "norm5" is torchvision's name
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.features.add_module("act5", make_act(spec.act))
        self.num_features = channels
        self.drop = nn.Dropout(spec.drop_rate)
        self.classifier = nn.Linear(channels, spec.num_classes)
        self.reset_parameters()

    @property
    def stages(self) -> list[nn.Sequential]:
        """Each dense block with the transition before it (views over `features`, not extra modules)."""
        return [nn.Sequential(*(getattr(self.features, n) for n in names)) for names in self._stage_names]

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        for name in self._stem_names:
            x = getattr(self.features, name)(x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(x.mean((2, 3)))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


SPEC_TYPES["densenet"] = DenseNetSpec
BUILDERS[DenseNetSpec] = DenseNet
