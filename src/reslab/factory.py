"""`create_model`: a preset name (or a spec) plus overrides -> a network, optionally with weights."""
from __future__ import annotations

import dataclasses
from typing import Mapping

from torch import nn

from .models import build
from .registry import get_preset
from .spec import Preprocessing, SpecError


def resolve_spec(name_or_spec, **overrides):
    """The spec of a preset (or a spec itself) with `overrides` applied; unknown fields raise SpecError."""
    spec = get_preset(name_or_spec).spec if isinstance(name_or_spec, str) else name_or_spec
    if not dataclasses.is_dataclass(spec):
        raise SpecError(f"expected a model name or a spec, got {type(name_or_spec).__name__}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return spec.replace(**overrides) if overrides else spec


def create_model(name, *, num_classes: int | None = None, in_chans: int | None = None, weights=None,
                 layout: str = "auto", ema: bool = False, rename: Mapping[str, str] | None = None,
                 features_only: bool = False, out_indices: tuple[int, ...] | None = None,
                 **spec_overrides) -> nn.Module:
    """Build preset `name` (or a spec). `num_classes`/`in_chans` default to the preset's own.

    `weights` is a checkpoint path or state dict in ResLab, timm or torchvision layout; when its classifier
    has a different number of classes, the head is re-initialised and a warning says so; its first convolution,
    trained on RGB, is adapted to `in_chans` (warned too). `ema` takes a training checkpoint's EMA weights,
    `rename` ({regex: replacement}) renames its keys first (see `reslab.load_weights`).
    `features_only` returns the feature maps of the `out_indices` stages (0 = stem; default all stages) instead.
    """
    if weights is None and (ema or rename):
        from .weights import WeightsError

        raise WeightsError("ema= and rename= apply to the weights: pass weights=<checkpoint> with them")
    spec = resolve_spec(name, num_classes=num_classes, in_chans=in_chans, **spec_overrides)
    model = build(spec)
    model.preset = name if isinstance(name, str) else None
    base = get_preset(name).preprocessing if isinstance(name, str) else Preprocessing()
    model.preprocessing = dataclasses.replace(base, input_size=spec.input_size)
    if weights is not None:
        from .weights import load_weights

        load_weights(model, weights, layout=layout, allow_new_head=True, ema=ema, rename=rename)
    if features_only:
        from .features import FeatureExtractor

        return FeatureExtractor(model, out_indices)
    return model
