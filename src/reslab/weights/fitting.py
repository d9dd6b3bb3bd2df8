"""Which registered preset a checkpoint's weights fit, by their shapes: the hint an error gives when a checkpoint
does not fit the model it was loaded into (resnet50 weights into resnet34 name resnet50). Every family says how its
presets show in a state dict's keys (`FamilyModel.checkpoints`: the blocks per stage, and its own markers)."""
from __future__ import annotations

import re
from typing import Mapping

from torch import nn

from ..models import BUILDERS, build
from ..models.cost import on_meta
from ..models.layout_rules import CheckpointRules
from ..spec import spec_diff
from .layouts import HEAD_PREFIXES, Layout

# --- which preset a checkpoint fits --------------------------------------------------------------------------
# Candidates are the registered presets of the model's family that the checkpoint's keys do not rule out (blocks
# per stage, classifier input, and what the family checks besides, e.g. a ResNet's block types, stem,
# pre-activation, attention and kind of 3x3: all read off the spec without building it). They are tried those the
# checkpoint's own layout can express first, then nearest the model's spec, and at most MAX_FIT_BUILDS of them are
# built (on the meta device: no memory, no initialisation, shapes cached), so the hint costs well under a second
# even for a checkpoint of no preset.
MAX_FIT_BUILDS = 12
# spec fields the nearness ignores: the classifier's size and the input (the comparison leaves the head out and
# sees the checkpoint before its stem is adapted to in_chans) and regularisation, which has no weights
HEAD_FIELDS = ("num_classes", "in_chans", "input_size", "drop_rate", "drop_path_rate")
_PRESET_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {}  # preset name -> its body's shapes, built once


def _body_shapes(state: Mapping) -> dict[str, tuple[int, ...]]:
    """key -> shape of everything but the classifier (its size is the number of classes) and BatchNorm counters."""
    return {k: tuple(v.shape) for k, v in state.items()
            if not k.startswith(HEAD_PREFIXES) and not k.endswith(".num_batches_tracked")}


def _stage_depths(keys, block_key: str) -> tuple[int, ...] | None:
    """Blocks per stage as the keys show them ('layer2.3.' ...), or None when they show no stages."""
    pattern = re.compile(block_key)
    blocks: dict[int, set[str]] = {}
    for key in keys:
        if m := pattern.match(key):
            blocks.setdefault(int(m.group(1)), set()).add(m.group(2))
    if not blocks or sorted(blocks) != list(range(min(blocks), min(blocks) + len(blocks))):
        return None
    return tuple(len(blocks[s]) for s in sorted(blocks))


def _could_fit(spec, rules: CheckpointRules, depths: tuple[int, ...], state: Mapping) -> bool:
    """Necessary conditions for `state` to be `spec`'s weights, read off the spec without building it."""
    if tuple(getattr(spec, rules.depths_field)) != depths:
        return False
    head = [v for k, v in state.items() if k.startswith(HEAD_PREFIXES) and k.endswith("weight") and v.ndim == 2]
    if head and spec.num_classes and head[0].shape[1] != spec.num_features:
        return False
    return rules.could_fit(spec, state)


def _preset_shapes(preset) -> dict[str, tuple[int, ...]] | None:
    if preset.name not in _PRESET_SHAPES:
        try:
            _PRESET_SHAPES[preset.name] = _body_shapes(on_meta(lambda: build(preset.spec)).state_dict())
        except Exception:  # a preset that does not build is no candidate; the hint must never fail the error
            return None
    return _PRESET_SHAPES[preset.name]


def fitting_preset(model: nn.Module, state: Mapping, layout: Layout | None = None) -> str | None:
    """The registered preset of `model`'s family whose weights have exactly the shapes of `state` (in ResLab's
    layout), classifier aside. When several do: one that `layout` (the foreign layout the checkpoint came in) can
    express, then the one whose spec is nearest the model's. None when none does."""
    from ..registry import list_presets

    spec = getattr(model, "spec", None)
    builder = BUILDERS.get(type(spec))
    if builder is None or builder.checkpoints.block_key is None:
        return None
    rules = builder.checkpoints
    theirs = _body_shapes(state)
    depths = _stage_depths(theirs, rules.block_key)
    if depths is None:
        return None

    def distance(preset) -> int:
        return sum(name not in HEAD_FIELDS for name, _, _ in spec_diff(preset.spec, spec))

    candidates = [p for p in list_presets() if type(p.spec) is type(spec) and _could_fit(p.spec, rules, depths, state)]
    candidates.sort(key=lambda p: (layout is not None and not layout.applies_to(p.spec), distance(p), len(p.name),
                                   p.name))
    for preset in candidates[:MAX_FIT_BUILDS]:
        if _preset_shapes(preset) == theirs:
            return preset.name
    return None


def fit_hint(model: nn.Module, state: Mapping, own: Mapping, layout: Layout | None) -> str:
    """Name the preset the checkpoint fits, unless only its classifier (or nothing of its shapes) differs."""
    if _body_shapes(state) == _body_shapes(own):
        return ""
    try:
        name = fitting_preset(model, state, layout)
    except Exception:  # a hint is a courtesy: never let it hide the error it decorates
        return ""
    if name is None:
        return ""
    if name == getattr(model, "preset", None):
        from ..registry import get_preset

        fields = [f for f, _, _ in spec_diff(get_preset(name).spec, model.spec) if f not in HEAD_FIELDS]
        return (f"; these weights fit preset {name} as registered: drop the override{'s' * (len(fields) > 1)} of "
                f"{', '.join(fields)}")
    return f"; these weights fit preset {name} (try --model {name} / create_model({name!r}, ...))"
