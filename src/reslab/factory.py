"""`create_model`: a preset name (or a spec) plus overrides -> a network, optionally with weights."""
from __future__ import annotations

import dataclasses
from typing import Mapping

from torch import nn

from .models import build
from .registry import get_preset
from .spec import Preprocessing, SpecError
from .spec.preprocessing import for_channels


def resolve_spec(name_or_spec, **overrides):
    """The spec of a preset (or a spec itself) with `overrides` applied; unknown fields raise SpecError."""
    spec = get_preset(name_or_spec).spec if isinstance(name_or_spec, str) else name_or_spec
    if not dataclasses.is_dataclass(spec):
        raise SpecError(f"expected a model name or a spec, got {type(name_or_spec).__name__}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return spec.replace(**overrides) if overrides else spec


def create_model(name, *, pretrained: bool = False, num_classes: int | None = None, in_chans: int | None = None,
                 weights=None, layout: str = "auto", ema: bool = False, rename: Mapping[str, str] | None = None,
                 features_only: bool = False, out_indices: tuple[int, ...] | None = None,
                 **spec_overrides) -> nn.Module:
    """Build preset `name` (or a spec). `num_classes`/`in_chans` default to the preset's own.

    `name` may carry a weight tag, timm's way: 'resnet50.a1_in1k' builds resnet50 with the preprocessing those
    weights were scored with (`model.preprocessing`); `pretrained=True` loads them too (a name without a tag: the
    preset's default weights). `reslab weights list` shows every tag. The file comes from torchvision's address
    through torch.hub's cache, from the Hugging Face hub through its cache, or from the package.

    `weights` is a checkpoint path, a run directory (its last weights) or a state dict in ResLab, timm, torchvision
    or transformers layout; when its classifier has a different number of classes, the head is re-initialised and a
    warning says so; its first convolution, trained on RGB, is adapted to `in_chans` (warned too). A ResLab
    checkpoint's preprocessing and class names (unless the head was re-initialised) are kept on the model, so that
    `save_weights` writes them again. `ema` takes a training checkpoint's EMA weights,
    `rename` ({regex: replacement}) renames its keys first (see `reslab.load_weights`).
    `features_only` returns the feature maps of the `out_indices` stages (0 = stem; default all stages) instead.
    """
    from .weights import WeightsError

    if pretrained and weights is not None:
        raise WeightsError("pretrained=True and weights= both name the weights to load: pass one of them")
    if weights is None and not pretrained and (ema or rename):
        raise WeightsError("ema= and rename= apply to the weights: pass weights=<checkpoint> with them")
    if pretrained and ema:
        raise WeightsError("ema= picks a training checkpoint's EMA weights: it applies to weights=, not to "
                           "published weights")
    tagged = _weight_set(name, pretrained)
    preset = tagged.preset if tagged else name
    if tagged is not None and num_classes is None:
        num_classes = tagged.num_classes
    spec = resolve_spec(preset, num_classes=num_classes, in_chans=in_chans, **spec_overrides)
    model = build(spec)
    model.describe(preset=preset if isinstance(preset, str) else None, weights_tag=tagged.tag if tagged else None)
    if tagged is not None:
        base = tagged.eval_preprocessing()
        if "input_size" in spec_overrides:  # the caller's size wins over the one the weights were scored at
            base = dataclasses.replace(base, input_size=spec.input_size)
    else:
        base = get_preset(preset).preprocessing if isinstance(preset, str) else Preprocessing()
        base = dataclasses.replace(base, input_size=spec.input_size)
    model.describe(preprocessing=for_channels(base, spec.in_chans))
    if pretrained:
        from .weights import load_weights
        from .weights.catalogue import class_names
        from .weights.download import weights_file

        meta = load_weights(model, weights_file(tagged), layout=tagged.layout, allow_new_head=True, rename=rename)
        if spec.num_classes == tagged.num_classes:
            classes, ids = class_names(tagged)
            # ResLab's own weights carry their class names
            model.describe(classes=classes or meta.get("classes"), class_ids=ids)
    elif weights is not None:
        from .weights import load_weights

        meta = load_weights(model, weights, layout=layout, allow_new_head=True, ema=ema, rename=rename)
        _keep_checkpoint_facts(model, meta, resized="input_size" in spec_overrides)
    if features_only:
        from .models.features import FeatureExtractor

        return FeatureExtractor(model, out_indices)
    return model


def _keep_checkpoint_facts(model: nn.Module, meta: dict, resized: bool) -> None:
    """What a ResLab checkpoint says beyond its weights, kept on the model (so that save_weights writes it again):
    its preprocessing (at the caller's input size, if one was given) and its class names, unless the head was
    re-initialised for another number of classes."""
    from .weights.loading import preprocessing_of

    if meta.get("preprocessing"):
        pre = preprocessing_of(meta, model.spec)
        if resized:
            pre = dataclasses.replace(pre, input_size=model.spec.input_size)
        model.describe(preprocessing=for_channels(pre, model.spec.in_chans))
    classes = meta.get("classes")
    if classes is not None and len(classes) == model.spec.num_classes:
        model.describe(classes=list(classes))


def _weight_set(name, pretrained: bool):
    """The catalogue entry `name` names ('preset.tag', or a preset with pretrained=True), else None."""
    if not isinstance(name, str):
        if pretrained:
            from .weights import WeightsError

            raise WeightsError("pretrained=True needs a preset name ('resnet50' or 'resnet50.a1_in1k'), not a spec: "
                               "build the spec and load a checkpoint with weights=PATH")
        return None
    if "." not in name and not pretrained:
        return None
    from .weights.catalogue import get_weights

    return get_weights(name)
