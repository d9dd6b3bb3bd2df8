"""Which registered preset a checkpoint's weights fit, by their shapes: the hint an error gives when a checkpoint
does not fit the model it was loaded into (resnet50 weights into resnet34 name resnet50)."""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..spec import spec_diff
from .layouts import HEAD_PREFIXES, Layout

# --- which preset a checkpoint fits --------------------------------------------------------------------------
# Candidates are the registered presets of the model's family that the checkpoint's keys do not rule out (block
# counts and types, classifier input, stem, pre-activation, attention, kind of 3x3: all read off the spec without
# building it). They are tried those the checkpoint's own layout can express first, then nearest the model's spec,
# and at most MAX_FIT_BUILDS of them are built (on the meta device: no memory, no initialisation, shapes cached), so
# the hint costs well under a second even for a checkpoint of no preset.
MAX_FIT_BUILDS = 12
# spec fields the nearness ignores: the classifier's size and the input (the comparison leaves the head out and
# sees the checkpoint before its stem is adapted to in_chans) and regularisation, which has no weights
HEAD_FIELDS = ("num_classes", "in_chans", "input_size", "drop_rate", "drop_path_rate")
_STAGE_KEYS = {"resnet": (re.compile(r"^layer(\d+)\.(\d+)\."), "depths"),
               "densenet": (re.compile(r"^features\.denseblock(\d+)\.denselayer(\d+)\."), "block_config")}
_PRESET_SHAPES: dict[str, dict[str, tuple[int, ...]]] = {}  # preset name -> its body's shapes, built once


class _SkipInit(TorchFunctionMode):
    """Random initialisation is meaningless on the meta device, and its first call there imports torch's compiler
    (seconds): skipped, while the tensors (and so the shapes) are created as usual."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in ("normal_", "uniform_", "trunc_normal_"):
            return args[0] if args else kwargs.get("tensor")
        return func(*args, **kwargs)


def _body_shapes(state: Mapping) -> dict[str, tuple[int, ...]]:
    """key -> shape of everything but the classifier (its size is the number of classes) and BatchNorm counters."""
    return {k: tuple(v.shape) for k, v in state.items()
            if not k.startswith(HEAD_PREFIXES) and not k.endswith(".num_batches_tracked")}


def _stage_depths(keys, family: str) -> tuple[int, ...] | None:
    """Blocks per stage as the keys show them ('layer2.3.' ...), or None when they show no stages."""
    pattern, _ = _STAGE_KEYS[family]
    blocks: dict[int, set[str]] = {}
    for key in keys:
        if m := pattern.match(key):
            blocks.setdefault(int(m.group(1)), set()).add(m.group(2))
    if not blocks or sorted(blocks) != list(range(min(blocks), min(blocks) + len(blocks))):
        return None
    return tuple(len(blocks[s]) for s in sorted(blocks))


def _could_fit(spec, family: str, depths: tuple[int, ...], state: Mapping) -> bool:
    """Necessary conditions for `state` to be `spec`'s weights, read off the spec without building it."""
    if tuple(getattr(spec, _STAGE_KEYS[family][1])) != depths:
        return False
    head = [v for k, v in state.items() if k.startswith(HEAD_PREFIXES) and k.endswith("weight") and v.ndim == 2]
    if head and spec.num_classes and head[0].shape[1] != spec.num_features:
        return False
    if family == "resnet":  # a bottleneck has a third convolution, a basic block not
        return (all((f"layer{s + 1}.0.conv3.weight" in state) == (b == "bottleneck")
                    for s, b in enumerate(spec.stage_values("block")))
                and _resnet_markers(state) == _resnet_spec_markers(spec))
    return True


# what a ResNet's block keys show of its spec: (stem kind, pre-activation, attention, 3x3 kind)
_BLOCK_KEY = re.compile(r"^layer\d+\.\d+\.")
_CONV3X3_MARKERS = (("res2", ".convs."), ("selective_kernel", ".paths."), ("split_attention", ".conv2.fc1."),
                    ("separable", ".depthwise."))


def _resnet_markers(keys) -> tuple:
    blocks = [m.string[m.end() - 1:] for m in map(_BLOCK_KEY.match, keys) if m]  # '.conv2.fc1.weight', ...
    stem = "deep" if "conv1.0.weight" in keys else "space_to_depth" if "conv1.1.weight" in keys else "one conv"
    conv3x3 = next((kind for kind, marker in _CONV3X3_MARKERS if any(marker in k for k in blocks)), "standard")
    return (stem, any(k.startswith(".bn0.") for k in blocks), any(k.startswith(".se.") for k in blocks), conv3x3)


def _resnet_spec_markers(spec) -> tuple:
    stem = spec.stem if spec.stem in ("deep", "space_to_depth") else "one conv"
    return (stem, spec.preact, set(spec.stage_values("attention")) != {"none"}, spec.conv3x3)


def _preset_shapes(preset) -> dict[str, tuple[int, ...]] | None:
    from ..models import build

    if preset.name not in _PRESET_SHAPES:
        try:
            with torch.device("meta"), _SkipInit():
                _PRESET_SHAPES[preset.name] = _body_shapes(build(preset.spec).state_dict())
        except Exception:  # a preset that does not build is no candidate; the hint must never fail the error
            return None
    return _PRESET_SHAPES[preset.name]


def fitting_preset(model: nn.Module, state: Mapping, layout: Layout | None = None) -> str | None:
    """The registered preset of `model`'s family whose weights have exactly the shapes of `state` (in ResLab's
    layout), classifier aside. When several do: one that `layout` (the foreign layout the checkpoint came in) can
    express, then the one whose spec is nearest the model's. None when none does."""
    from ..registry import list_presets

    spec = getattr(model, "spec", None)
    family = spec.to_dict()["family"] if spec is not None else None
    if family not in _STAGE_KEYS:
        return None
    theirs = _body_shapes(state)
    depths = _stage_depths(theirs, family)
    if depths is None:
        return None

    def distance(preset) -> int:
        return sum(name not in HEAD_FIELDS for name, _, _ in spec_diff(preset.spec, spec))

    candidates = [p for p in list_presets() if p.spec.to_dict()["family"] == family
                  and _could_fit(p.spec, family, depths, state)]
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
