"""The load policy: a checkpoint (any layout) into a model, or a model rebuilt from a ResLab checkpoint alone; every
key that does not fit is named, with hints at renamed prefixes and differing spec fields."""
from __future__ import annotations

import math
import re
import warnings
from typing import Mapping

from torch import nn

from ..spec import Preprocessing, from_dict, spec_diff
from .errors import WeightsError
from .layouts import HEAD_PREFIXES, to_reslab_layout
from .reading import read_checkpoint


def load_weights(model: nn.Module, source, *, layout: str = "auto", allow_new_head: bool = False,
                 ema: bool = False, rename: Mapping[str, str] | None = None) -> dict:
    """Load `source` (path or state dict, ResLab/timm/torchvision layout) into `model`; returns the metadata.

    With `allow_new_head`, a classifier whose shape differs (another number of classes) is left freshly
    initialised and a warning says so; every other mismatch raises WeightsError naming the keys.
    `ema` takes a training checkpoint's EMA weights ('state_dict_ema' / 'model_ema') instead of the plain ones.
    `rename` ({regex: replacement}) renames the checkpoint's keys with re.sub, in order, after unwrapping and
    before the layout is detected. A first convolution trained on RGB is adapted to the model's `in_chans`.
    """
    if layout not in ("auto", "reslab", "timm", "torchvision"):
        raise WeightsError(f"layout={layout!r}: choose auto, reslab, timm or torchvision")
    rules = _compile_rename(rename)
    state, meta = read_checkpoint(source, ema=ema)
    origin = "checkpoint" if isinstance(source, Mapping) else f"checkpoint {source}"
    state = _rename_keys(state, rules, origin)
    load_state(model, to_reslab_layout(model, state, "reslab" if meta else layout), meta, origin,
               allow_new_head=allow_new_head)
    return meta


def _compile_rename(rename) -> list[tuple[re.Pattern, str]]:
    if rename is None:
        return []
    if not isinstance(rename, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in rename.items()):
        raise WeightsError(f"rename must map regular expressions to replacements, e.g. {{r'^linear\\.': 'fc.'}}, "
                           f"got {rename!r:.80}")
    rules = []
    for pattern, repl in rename.items():
        try:
            rules.append((re.compile(pattern), repl))
        except re.error as e:
            raise WeightsError(f"rename pattern {pattern!r} is not a regular expression: {e}") from None
    return rules


def _rename_keys(state: dict, rules: list[tuple[re.Pattern, str]], origin: str) -> dict:
    """The user's key map applied to every key, each rule in order; two keys renamed to one is an error."""
    if not rules:
        return state
    renamed: dict = {}
    for key, value in state.items():
        new = key
        for pattern, repl in rules:
            try:
                new = pattern.sub(repl, new)
            except (re.error, IndexError) as e:  # a replacement naming a group the pattern lacks
                raise WeightsError(f"rename {pattern.pattern!r} -> {repl!r} fails on {key!r}: {e}") from None
        if new in renamed:
            raise WeightsError(f"rename maps two keys of {origin} to {new!r} ({renamed[new][0]!r} and {key!r})")
        renamed[new] = (key, value)
    return {new: value for new, (_, value) in renamed.items()}


def load_state(model: nn.Module, state: dict, meta: dict, origin: str = "checkpoint", *,
               allow_new_head: bool = False) -> None:
    """Load a state dict in ResLab's layout, or raise WeightsError naming every key that does not fit."""
    own = model.state_dict()
    # BatchNorm's step counter came with PyTorch 0.4.1; older checkpoints lack it and PyTorch itself accepts that
    state = {**{k: own[k] for k in own if k.endswith(".num_batches_tracked") and k not in state}, **state}
    state = _adapt_first_conv(model, state, own)
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


def _adapt_first_conv(model: nn.Module, state: dict, own: dict) -> dict:
    """RGB weights for a model with another number of input channels: the first convolution's filters summed
    (in_chans=1) or repeated and scaled by 3/in_chans, so a grey or stacked image gives the RGB model's output.

    Only the convolution that sees the image itself (weight input channels == spec.in_chans) is adapted."""
    name = getattr(model, "first_conv", None)
    spec = getattr(model, "spec", None)
    key = f"{name}.weight"
    if name is None or spec is None or key not in state or key not in own:
        return state
    theirs, mine = state[key], own[key]
    in_chans = spec.in_chans
    if (theirs.ndim != 4 or mine.ndim != 4 or theirs.shape[1] != 3 or mine.shape[1] != in_chans or in_chans == 3
            or theirs.shape[:1] + theirs.shape[2:] != mine.shape[:1] + mine.shape[2:]):
        return state
    if not theirs.is_floating_point():
        return state
    if in_chans == 1:
        adapted, how = theirs.sum(1, keepdim=True), "summed the RGB filters"
    else:
        repeats = math.ceil(in_chans / 3)
        adapted = theirs.repeat(1, repeats, 1, 1)[:, :in_chans] * (3 / in_chans)
        how = f"repeated the RGB filters to {in_chans} channels, scaled by 3/{in_chans}"
    warnings.warn(f"{key} has 3 input channels in the checkpoint and {in_chans} in this model (in_chans={in_chans}): "
                  f"{how}", stacklevel=4)
    return {**state, key: adapted.to(theirs.dtype)}


def _rename_hint(missing: list[str], unexpected: list[str]) -> str:
    """Say so when the unexpected keys are the missing ones under another first name ('linear.*' for 'fc.*'),
    or under an extra prefix ('backbone.*'), in the form `rename=` takes."""
    def by_first_name(keys):
        groups: dict[str, set[str]] = {}
        for key in keys:
            first, _, rest = key.partition(".")
            groups.setdefault(first, set()).add(rest)
        return groups

    def same(rests: set[str], mine: set[str]) -> bool:  # BatchNorm counters missing from the model's side count too
        return bool(mine) and mine <= rests and all(r.rpartition(".")[2] == "num_batches_tracked" for r in rests - mine)

    ours, theirs_groups = by_first_name(missing), by_first_name(unexpected)
    pairs = [(theirs, name) for theirs, rests in theirs_groups.items()
             for name, mine in ours.items() if same(rests, mine)]
    extra = [theirs for theirs, rests in theirs_groups.items() if same(rests, set(missing))]
    if not pairs and not extra:
        return ""
    rename = {f"^{re.escape(theirs)}\\.": f"{name}." for theirs, name in pairs}
    rename.update({f"^{re.escape(theirs)}\\.": "" for theirs in extra})
    said = [f"unexpected keys start with '{theirs}.', missing keys start with '{name}.'" for theirs, name in pairs]
    said += [f"unexpected keys are the missing ones under '{theirs}.'" for theirs in extra]
    moves = ", ".join([f"'{theirs}.' -> '{name}.'" for theirs, name in pairs] + [f"'{t}.' -> ''" for t in extra])
    return f" ({'; '.join(said)}: to rename {moves}, try rename={rename!r})"


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
