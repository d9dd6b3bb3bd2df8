"""The load policy: a checkpoint (any layout) into a model, or a model rebuilt from a ResLab checkpoint alone; every
key that does not fit is named, with hints at renamed prefixes and differing spec fields."""
from __future__ import annotations

import warnings
from typing import Mapping

from torch import nn

from ..spec import Preprocessing, from_dict, spec_diff
from .errors import WeightsError
from .layouts import HEAD_PREFIXES, to_reslab_layout
from .reading import read_checkpoint


def load_weights(model: nn.Module, source, *, layout: str = "auto", allow_new_head: bool = False) -> dict:
    """Load `source` (path or state dict, ResLab/timm/torchvision layout) into `model`; returns the metadata.

    With `allow_new_head`, a classifier whose shape differs (another number of classes) is left freshly
    initialised and a warning says so; every other mismatch raises WeightsError naming the keys.
    """
    if layout not in ("auto", "reslab", "timm", "torchvision"):
        raise WeightsError(f"layout={layout!r}: choose auto, reslab, timm or torchvision")
    state, meta = read_checkpoint(source)
    origin = "checkpoint" if isinstance(source, Mapping) else f"checkpoint {source}"
    load_state(model, to_reslab_layout(model, state, "reslab" if meta else layout), meta, origin,
               allow_new_head=allow_new_head)
    return meta


def load_state(model: nn.Module, state: dict, meta: dict, origin: str = "checkpoint", *,
               allow_new_head: bool = False) -> None:
    """Load a state dict in ResLab's layout, or raise WeightsError naming every key that does not fit."""
    own = model.state_dict()
    # BatchNorm's step counter came with PyTorch 0.4.1; older checkpoints lack it and PyTorch itself accepts that
    state = {**{k: own[k] for k in own if k.endswith(".num_batches_tracked") and k not in state}, **state}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    head = [k for k in wrong + missing if k.startswith(HEAD_PREFIXES)]
    if allow_new_head and head and not (set(wrong + missing) - set(head)) and not unexpected:
        warnings.warn(f"checkpoint classifier does not fit this model ({', '.join(_shape_note(k, own, state) for k in head)}): "
                      "the head is re-initialised, the rest is loaded", stacklevel=3)
        state = {**state, **{k: own[k] for k in head}}  # keep the model's fresh head
        missing, wrong = [], []
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys {_clip(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_clip(unexpected)}")
        if wrong:
            parts.append("wrongly shaped keys " + _clip([_shape_note(k, own, state) for k in wrong]))
        raise WeightsError(f"{origin} does not fit {getattr(model, 'preset', None) or type(model).__name__}: "
                           + "; ".join(parts) + _rename_hint(missing, unexpected) + _spec_hint(model, meta))
    model.load_state_dict(state)


def _shape_note(key: str, own: dict, state: dict) -> str:
    got = tuple(state[key].shape) if key in state else "absent"
    return f"{key} (model {tuple(own[key].shape)}, checkpoint {got})"


def _clip(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _rename_hint(missing: list[str], unexpected: list[str]) -> str:
    """Say so when the unexpected keys are the missing ones under another first name ('linear.*' for 'fc.*')."""
    def by_first_name(keys):
        groups: dict[str, set[str]] = {}
        for key in keys:
            first, _, rest = key.partition(".")
            groups.setdefault(first, set()).add(rest)
        return groups

    ours = by_first_name(missing)
    renames = [f"'{theirs}.' -> '{name}.'" for theirs, rests in by_first_name(unexpected).items()
               for name, mine in ours.items() if rests == mine]
    return f" (the checkpoint seems to use other names: rename {', '.join(renames)})" if renames else ""


def _spec_hint(model: nn.Module, meta: dict) -> str:
    """Name the spec fields that differ when the checkpoint says which model it was saved from."""
    if not meta or not hasattr(model, "spec"):
        return ""
    differing = [name for name, _, _ in spec_diff(from_dict(meta["spec"]), model.spec)]
    return (f" (it was saved from {meta.get('preset') or 'a model'} whose spec differs in {', '.join(differing)}; "
            "reslab.load_model(path) rebuilds that model)") if differing else ""


def preprocessing_of(meta: dict, spec):
    """The checkpoint's preprocessing, or the default one at the spec's input size when it stores none."""
    pre = meta.get("preprocessing")
    return Preprocessing.from_dict(pre) if pre else Preprocessing(input_size=spec.input_size)


def load_model(path) -> nn.Module:
    """Rebuild a model from a ResLab checkpoint alone: the one checkpoint-to-model path of every command.

    Spec, preprocessing and class names (`.classes`, None if the file has none) come from its metadata."""
    from ..models import build

    state, meta = read_checkpoint(path)
    if not meta:
        raise WeightsError(f"{path} carries no ResLab metadata (spec, preprocessing): load it with "
                           f"create_model(name, weights={str(path)!r}) and save it with "
                           "reslab.save_weights(model, 'name.safetensors', classes=[...])")
    model = build(from_dict(meta["spec"]))
    model.preset = meta.get("preset")
    model.preprocessing = preprocessing_of(meta, model.spec)
    model.classes = meta.get("classes")  # checked against the classifier by read_checkpoint
    load_state(model, state, meta, f"checkpoint {path}")
    return model
