"""The family protocol: what every builder's network provides, so that features, backbones, fine-tuning, export,
bench and compare work with a family without knowing it. A new family subclasses `FamilyModel`, builds its stem
and stages in `__init__` (calling `add_feature` for each as it goes), and joins `models.BUILDERS`."""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class FamilyModel(nn.Module):
    """Stem -> stages -> final norm (`forward_features`) -> pool, dropout, classifier (`forward_head`)."""

    classifier_name: ClassVar[str] = "fc"  # the attribute holding the final nn.Linear

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.feature_info: list[dict] = []  # stem, then each stage: {index, name, num_chs, reduction}
        self.grad_checkpointing = False

    def add_feature(self, name: str, num_chs: int, reduction: int) -> None:
        """Record an output the builder just made (index 0 the stem, 1..N the stages), as timm's feature_info."""
        self.feature_info.append({"index": len(self.feature_info), "name": name, "num_chs": num_chs,
                                  "reduction": reduction})

    @property
    def stages(self) -> list[nn.Module]:
        raise NotImplementedError

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem, then each stage; a family with a final norm after the last stage adds it."""
        x = self.forward_stem(x)
        for stage in self.stages:
            x = self.run_stage(stage, x)
        return x

    def run_stage(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """One stage; with grad checkpointing on (training only), its activations are recomputed in backward."""
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(stage, x, use_reentrant=False)
        return stage(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(x.mean((2, 3)))
        return x if pre_logits else self.get_classifier()(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    # --- what fine-tuning and weight loading ask of a model ---------------------------------------------------
    @property
    def first_conv(self) -> str:
        """Name of the convolution that sees the image (its weights are what `in_chans` changes)."""
        return next(name for name, m in self.named_modules() if isinstance(m, nn.Conv2d))

    def get_classifier(self) -> nn.Module:
        return getattr(self, self.classifier_name)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh classifier for `num_classes` outputs; the spec says so too."""
        self.spec = self.spec.replace(num_classes=num_classes)
        setattr(self, self.classifier_name, nn.Linear(self.num_features, num_classes))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Trade compute for memory: recompute each stage's activations in backward."""
        self.grad_checkpointing = enable
