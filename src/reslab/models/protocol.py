"""The family protocol: what every builder's network provides, so that features, backbones, fine-tuning, export,
bench, compare, weight loading and the cost tables work with a family without knowing it.

A family is one place: its builder subclasses `FamilyModel`, names the spec class it builds (`spec_type`, which
registers it in FAMILIES), builds its stem and stages in `__init__` (calling `add_feature` for each as it goes),
and states its checkpoint layouts and how its presets are told apart by their keys (`checkpoints`); a network
that reads clips also says which input axis is time and how long an input its cost is counted on."""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..spec.preprocessing import Preprocessing, for_channels
from .cost import meta_macs, on_meta
from .layout_rules import CheckpointRules

# family name (the spec's `family`) -> its builder, filled as the family modules are imported (models/__init__)
FAMILIES: dict[str, type[FamilyModel]] = {}


class FamilyModel(nn.Module):
    """Stem -> stages -> final norm (`forward_features`) -> pool, dropout, classifier (`forward_head`)."""

    spec_type: ClassVar[type]  # the spec class this builder builds; a subclass that sets it is a family
    classifier_name: ClassVar[str] = "fc"  # the attribute holding the final nn.Linear
    checkpoints: ClassVar[CheckpointRules] = CheckpointRules()  # foreign layouts and how presets show in keys
    # the input axis that may have any length (an audio model's frames), None for an image model, and the length
    # along it that a cost is counted on
    time_axis: ClassVar[int | None] = None
    cost_frames: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "spec_type" in cls.__dict__:
            family = cls.spec_type.family
            known = FAMILIES.get(family)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(f"family {family!r} has two builders, {known.__qualname__} and {cls.__qualname__}; "
                                "give each spec class one builder")
            FAMILIES[family] = cls

    # the model card: what the network is and how it reads its input, beside its weights; save_weights writes it,
    # and Predictor, evaluation, kNN and export read it. A bare build(spec) has its spec's own (no preset, no names,
    # the family's default preprocessing at the spec's size); create_model and the loaders fill the rest (describe)
    CARD: ClassVar[tuple[str, ...]] = ("preset", "weights_tag", "classes", "class_ids", "preprocessing")

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.feature_info: list[dict] = []  # stem, then each stage: {index, name, num_chs, reduction}
        self.grad_checkpointing = False
        self.preset: str | None = None  # the preset it was built from
        self.weights_tag: str | None = None  # the published weight set it was made for ('resnet50.a1_in1k')
        self.classes: list[str] | None = None  # a name per output
        self.class_ids: list[str] | None = None  # an id per output where the names have them (ImageNet's WordNet ids)
        self.preprocessing: Preprocessing = self.default_preprocessing(spec)

    @classmethod
    def default_preprocessing(cls, spec) -> Preprocessing:
        """What a network of this family reads when nothing else says: images at the spec's size, one mean and std
        per input channel."""
        return for_channels(Preprocessing(input_size=spec.input_size), spec.in_chans)

    def describe(self, **card) -> "FamilyModel":
        """Fill in the model card (CARD's fields); the one way its fields are set from outside."""
        unknown = sorted(set(card) - set(self.CARD))
        if unknown:
            raise TypeError(f"not model card fields: {', '.join(unknown)}; the card has {', '.join(self.CARD)}")
        for name, value in card.items():
            setattr(self, name, value)
        return self

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

    # --- what a forward pass costs -------------------------------------------------------------------------------
    def cost_input_shape(self, input_size: int | None = None, frames: int | None = None) -> tuple[int, ...]:
        """The one input a cost is counted on: a square image of `input_size` px (default: the spec's); along a
        time axis, `frames` (default: the family's `cost_frames`)."""
        size = input_size or self.spec.input_size
        shape = [1, self.spec.in_chans, size, size]
        if self.time_axis is not None:
            shape[self.time_axis] = frames or self.cost_frames or size
        return tuple(shape)

    def count_macs(self, shape: tuple[int, ...]) -> int:
        """Multiply-accumulates of one forward pass on an input of `shape` (`cost_input_shape`), counted on a twin
        of this network built from its spec on the meta device (models/cost.py): the same on every machine."""
        on_meta_already = next(self.parameters()).is_meta
        return meta_macs(self if on_meta_already else on_meta(lambda: type(self)(self.spec)), shape)
