"""Several augmented views of one image, stacked: what self-supervised methods compare and FixMatch's weak and
strong pair."""
from __future__ import annotations

import torch


class Views:
    """Applies each transform to the same image: a (views, C, H, W) tensor, which batches to (N, views, C, H, W)."""

    def __init__(self, *transforms):
        self.transforms = transforms

    def __call__(self, image) -> torch.Tensor:
        return torch.stack([t(image) for t in self.transforms])
