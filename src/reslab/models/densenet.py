"""DenseNet (Huang et al. 2017, "Densely Connected Convolutional Networks"): the builder of its spec (spec/densenet.py).

Each layer receives the concatenation of every earlier feature map of its block instead of a sum, so a DenseNet
is not a ResNet spec with another block: it has its own spec. Module names follow torchvision's and timm's shared
layout (features.conv0, features.denseblockN.denselayerM.norm1/conv1/norm2/conv2, features.transitionN,
features.norm5, classifier), so their checkpoints load without renaming.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import make_act
from ..spec.densenet import DenseNetSpec, transition_channels
from .layout_rules import CheckpointRules, Layout, same_keys
from .protocol import FamilyModel

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


class DenseNet(FamilyModel):
    """Stem, dense blocks joined by transitions, final BN-ReLU, global average pool, linear classifier."""

    spec_type = DenseNetSpec
    classifier_name = "classifier"  # torchvision's and timm's name
    # timm 1.0.29 and torchvision share one layout (features.denseblockN..., classifier), which is ResLab's
    checkpoints = CheckpointRules(
        tuple(Layout(zoo, detect=lambda keys: "features.conv0.weight" in keys, to_reslab=same_keys,
                     from_reslab=same_keys) for zoo in ("torchvision", "timm")),
        block_key=r"^features\.denseblock(\d+)\.denselayer(\d+)\.", depths_field="block_config")

    def __init__(self, spec: DenseNetSpec):
        super().__init__(spec)
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
        reduction = 4 if spec.stem == "conv7" else 1
        self.add_feature("stem", spec.stem_channels, reduction)

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
            reduction *= 2 if i > 0 else 1
            self.add_feature(f"stage{i + 1}", channels, reduction)
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
        if not self.grad_checkpointing:
            return self.features(x)  # one call through the torchvision-named sequence
        return self.features.act5(self.features.norm5(super().forward_features(x)))
