"""A ResLab network with a feature pyramid on top, in the shape torchvision's detection models expect."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from .factory import create_model
from .models.features import FeatureExtractor
from .models.finetune import FinetuneError, freeze, freeze_bn, part_names


class BackboneWithFPN(nn.Module):
    """Stage features -> FPN; `forward` returns an ordered dict of maps ("0".."k", "pool"), `out_channels` each."""

    def __init__(self, body: nn.Module, out_channels: int = 256, extra_pool: bool = True):
        super().__init__()
        self.body = body
        in_channels = [info["num_chs"] for info in body.feature_info]
        self.fpn = FeaturePyramidNetwork(in_channels, out_channels, LastLevelMaxPool() if extra_pool else None)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        features = OrderedDict((str(i), f) for i, f in enumerate(self.body(x)))
        return self.fpn(features)


def backbone_with_fpn(name, *, weights=None, out_indices: tuple[int, ...] = (1, 2, 3, 4), out_channels: int = 256,
                      trainable_from: str | None = "stage2", frozen_bn: bool = True, extra_pool: bool = True,
                      **spec_overrides) -> BackboneWithFPN:
    """Backbone for `torchvision.models.detection` (FasterRCNN, MaskRCNN, RetinaNet's FPN variant).

    As torchvision's detection backbones: norms frozen (a detector sees a few large images per device, too few
    for batch statistics) and the parts before `trainable_from` frozen; `trainable_from=None` trains all.
    """
    model = create_model(name, weights=weights, **spec_overrides)
    if frozen_bn:
        freeze_bn(model)
    parts = part_names(model)[:-1]  # the classifier head is not part of a backbone
    if trainable_from is not None and trainable_from not in parts:
        raise FinetuneError(f"trainable_from={trainable_from!r}: choose one of {parts} or None")
    if trainable_from not in (None, "stem"):
        freeze(model, up_to=parts[parts.index(trainable_from) - 1])
    return BackboneWithFPN(FeatureExtractor(model, out_indices), out_channels, extra_pool)
