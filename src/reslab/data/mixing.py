"""Soft targets for a batch: MixUp / CutMix (torchvision v2), then label smoothing."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import v2


class BatchMixer:
    """Picks MixUp or CutMix per batch (50/50 when both are on, as timm's recipes do) and smooths the labels."""

    def __init__(self, num_classes: int, mixup: float, cutmix: float, label_smoothing: float):
        self.num_classes, self.smoothing = num_classes, label_smoothing
        mixers = ([v2.MixUp(alpha=mixup, num_classes=num_classes)] if mixup > 0 else []) + \
                 ([v2.CutMix(alpha=cutmix, num_classes=num_classes)] if cutmix > 0 else [])
        self.mix = v2.RandomChoice(mixers) if len(mixers) > 1 else (mixers[0] if mixers else None)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mix is not None and len(labels) > 1:
            images, targets = self.mix(images, labels)
        else:
            targets = F.one_hot(labels, self.num_classes).float()
        if self.smoothing > 0:
            targets = targets * (1 - self.smoothing) + self.smoothing / self.num_classes
        return images, targets
