"""A network as a backbone: the feature maps of chosen stages instead of class scores (timm's `features_only`).

Index 0 is the stem's output, 1..N the stages'. Works for every family through the family protocol
(models/protocol.py): `forward_stem`, `stages`, `feature_info`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ReslabError


class FeatureError(ReslabError, ValueError):
    """Feature indices that the model does not have."""


class FeatureExtractor(nn.Module):
    """Runs the stem and the stages up to the deepest requested one; returns the requested maps in order."""

    def __init__(self, model: nn.Module, out_indices: tuple[int, ...] | None = None):
        super().__init__()
        info = model.feature_info  # recorded by the builder as it made the stem and the stages
        valid = [d["index"] for d in info]
        out_indices = tuple(out_indices) if out_indices is not None else tuple(valid[1:])
        bad = [i for i in out_indices if i not in valid]
        if bad or not out_indices or sorted(set(out_indices)) != list(out_indices):
            raise FeatureError(f"out_indices={out_indices}: give increasing indices from {valid} "
                               "(0 = stem, 1..N = stages)")
        self.model = model
        self.spec = model.spec
        self.out_indices = out_indices
        self.feature_info = [info[i] for i in out_indices]
        self.preprocessing = getattr(model, "preprocessing", None)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.model.forward_stem(x)
        features = [x] if 0 in self.out_indices else []
        for i, stage in enumerate(self.model.stages[: self.out_indices[-1]]):
            x = stage(x)
            if i + 1 in self.out_indices:
                features.append(x)
        return features
