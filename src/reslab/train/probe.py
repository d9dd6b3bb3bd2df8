"""A linear probe: the backbone frozen whole (its BatchNorms normalising with their stored statistics, in training
mode too), only the classifier trained, as the self-supervised papers evaluate features (SimCLR Sec. 2.3)."""
from __future__ import annotations

from torch import nn


def make_linear_probe(model: nn.Module) -> nn.Module:
    from ..models.finetune import freeze_bn

    freeze_bn(model)
    model.requires_grad_(False)
    model.get_classifier().requires_grad_(True)
    return model
