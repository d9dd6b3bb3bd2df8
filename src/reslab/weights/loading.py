"""The load policy: a checkpoint (any layout) into a model, or a model rebuilt from a ResLab checkpoint alone; every
key that does not fit is named, with hints at renamed prefixes and differing spec fields."""
from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ..errors import ReslabError
from ..spec import Preprocessing, from_dict, spec_diff
from .errors import WeightsError
from .layouts import HEAD_PREFIXES, TRANSFORMERS_ACTS_IN, Layout, rename_to_reslab, resolve_layout
from .fitting import HEAD_FIELDS, fit_hint
from .reading import read_checkpoint

LAYOUT_CHOICES = ("auto", "reslab", "timm", "torchvision", "transformers")


def load_weights(model: nn.Module, source, *, layout: str = "auto", allow_new_head: bool = False,
                 ema: bool = False, rename: Mapping[str, str] | None = None) -> dict:
    """Load `source` (path, run directory or state dict; ResLab, timm, torchvision or transformers layout) into
    `model`; returns the metadata.

    With `allow_new_head`, a classifier whose shape differs (another number of classes) is left freshly
    initialised and a warning says so; every other mismatch raises WeightsError naming the keys (and the preset
    the checkpoint fits, when one does). `ema` takes a training checkpoint's EMA weights ('state_dict_ema' /
    'model_ema') instead of the plain ones. `rename` ({regex: replacement}) renames the checkpoint's keys with
    re.sub, in order, after unwrapping and before the layout is detected. A first convolution trained on RGB is
    adapted to the model's `in_chans`. A transformers checkpoint's weights do not say where its blocks stride or
    which activation it uses: a config.json beside the file is checked against the model when there is one.
    """
    if layout not in LAYOUT_CHOICES:
        raise WeightsError(f"layout={layout!r}: choose {', '.join(LAYOUT_CHOICES[:-1])} or {LAYOUT_CHOICES[-1]}")
    rules = _compile_rename(rename)
    source = checkpoint_file(source)
    state, meta = read_checkpoint(source, ema=ema)
    origin = "checkpoint" if isinstance(source, Mapping) else f"checkpoint {source}"
    state = _rename_keys(state, rules, origin)
    conv = resolve_layout(model, list(state), "reslab" if meta else layout)
    if conv is not None and conv.name == "transformers" and isinstance(source, (str, os.PathLike)):
        check_transformers_config(model, Path(source))
    load_state(model, rename_to_reslab(state, conv), meta, origin, allow_new_head=allow_new_head, layout=conv)
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
               allow_new_head: bool = False, layout: Layout | None = None) -> None:
    """Load a state dict in ResLab's layout, or raise WeightsError naming every key that does not fit (and the
    preset it fits, preferring those `layout`, the foreign layout it came in, can express)."""
    own = model.state_dict()
    given = state
    # BatchNorm's step counter came with PyTorch 0.4.1; older checkpoints lack it and PyTorch itself accepts that
    state = {**{k: own[k] for k in own if k.endswith(".num_batches_tracked") and k not in state}, **state}
    state = _adapt_first_conv(model, state, own)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    head = [k for k in wrong + missing if k.startswith(HEAD_PREFIXES)]
    only_head = head and not (set(wrong + missing) - set(head)) and not unexpected
    if allow_new_head and only_head:
        shapes = ", ".join(_shape_note(k, own, state) for k in head)
        warnings.warn(f"checkpoint classifier does not fit this model ({shapes}): the head is re-initialised, the "
                      "rest is loaded", stacklevel=3)
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
        hint = _spec_hint(model, meta) or (_head_hint(model, head, state) if only_head else "")
        raise WeightsError(f"{origin} does not fit {getattr(model, 'preset', None) or type(model).__name__}: "
                           + "; ".join(parts) + _rename_hint(missing, unexpected)
                           + (hint or fit_hint(model, given, own, layout)))
    refuse_non_finite(state, origin)
    model.load_state_dict(state)


def refuse_non_finite(state: dict, origin: str) -> None:
    """A NaN or infinite weight (a diverged run, a damaged file) makes every output NaN: a WeightsError naming
    the first tensor that holds one."""
    for key, value in state.items():
        finite = torch.isfinite(value) if value.is_floating_point() else None
        if finite is not None and not finite.all():
            kinds = " and ".join(k for k, bad in (("NaN", value.isnan()), ("infinite", value.isinf())) if bad.any())
            raise WeightsError(f"{origin}: tensor {key} holds {kinds} values ({int((~finite).sum())} of "
                               f"{value.numel()}): the weights are damaged (a diverged run or a broken conversion); "
                               "use an earlier checkpoint or train again")


def _head_hint(model: nn.Module, head: list[str], state: dict) -> str:
    """Only the classifier differs: say how many classes the checkpoint's has and how to build a model to fit."""
    classes = next((state[k].shape[0] for k in head if k in state), None)
    spec = getattr(model, "spec", None)
    if classes is None or spec is None:
        return ""
    return (f" (its classifier has {classes} classes, this model's {spec.num_classes}: build the model with "
            f"num_classes={classes}; on the command line, add :num_classes={classes} to --model)")


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
    flags = " ".join(f"--rename '{pattern}={repl}'" for pattern, repl in rename.items())
    return f" ({'; '.join(said)}: to rename {moves}, try rename={rename!r}; on the command line {flags})"


def _spec_hint(model: nn.Module, meta: dict) -> str:
    """Name the spec fields that differ when the checkpoint says which model it was saved from."""
    if not meta or not hasattr(model, "spec"):
        return ""
    differing = [name for name, _, _ in spec_diff(from_dict(meta["spec"]), model.spec)]
    return (f" (it was saved from {meta.get('preset') or 'a model'} whose spec differs in {', '.join(differing)}; "
            "reslab.load_model(path) rebuilds that model)") if differing else ""


def check_transformers_config(model: nn.Module, path: Path) -> None:
    """A transformers ResNet checkpoint against the config.json beside it (a Hugging Face snapshot), if any: where
    the bottleneck strides (downsample_in_bottleneck: the first 1x1, else the 3x3), whether the first stage
    strides (downsample_in_first_stage) and the activation (hidden_act) leave no trace in the weights."""
    try:
        config = json.loads(path.with_name("config.json").read_text())
    except (OSError, ValueError):
        return
    spec = getattr(model, "spec", None)
    if not isinstance(config, dict) or config.get("model_type") != "resnet" or spec is None:
        return
    said, wants = [], {}
    if config.get("layer_type", "bottleneck") == "bottleneck" and set(spec.stage_values("block")) == {"bottleneck"}:
        in_1x1 = bool(config.get("downsample_in_bottleneck", False))
        if spec.stride_on != ("1x1" if in_1x1 else "3x3"):
            said.append(f"downsample_in_bottleneck={str(in_1x1).lower()} (the bottleneck strides its "
                        f"{'first 1x1' if in_1x1 else '3x3'})")
            wants["stride_on"] = "1x1" if in_1x1 else "3x3"
    first = 2 if config.get("downsample_in_first_stage", False) else 1
    if spec.strides[0] != first:
        said.append(f"downsample_in_first_stage={str(first == 2).lower()} (the first stage strides by {first})")
        wants["strides"] = (first,) + tuple(spec.strides[1:])
        reached = spec.stem_stride * math.prod(wants["strides"])
        if reached > spec.output_stride:  # else ResLab would turn the last stride into dilation
            wants["output_stride"] = reached
    act_name = config.get("hidden_act", "relu")
    act = TRANSFORMERS_ACTS_IN.get(act_name) if isinstance(act_name, str) else None
    if act is None:
        raise WeightsError(f"checkpoint {path}: its config.json says hidden_act={act_name!r}, an activation ResLab "
                           f"does not have (it has {', '.join(sorted(TRANSFORMERS_ACTS_IN))})")
    # hidden_act is the stem's and the after-addition activation; inside the blocks transformers always uses relu
    if (spec.act, spec.stem_act or spec.act, spec.residual_act or spec.act) != ("relu", act, act):
        said.append(f"hidden_act={act_name!r} (the stem's and the after-addition activation, relu inside the blocks)")
        target = {"act": "relu", "stem_act": "" if act == "relu" else act, "residual_act": "" if act == "relu" else act}
        wants.update({f: v for f, v in target.items() if getattr(spec, f) != v})
    if not wants:
        return
    name = getattr(model, "preset", None)
    has = ", ".join(f"{f}={getattr(spec, f)!r}" for f in wants)
    kwargs = ", ".join(f"{f}={v!r}" for f, v in wants.items())
    flags = " ".join(f"--{f.replace('_', '-')} {_fmt_field(v)}" for f, v in wants.items())
    how = (f"create_model({name!r}, {kwargs}, weights=...); on the command line --model {name} {flags}" if name
           else f"spec.replace({kwargs})")
    try:
        twin = _preset_with(spec.replace(**wants))
    except ReslabError:  # the fields asked for contradict others of this spec: the message above says enough
        twin = None
    raise WeightsError(f"checkpoint {path}: the config.json beside it says {', '.join(said)}; this "
                       f"{name or 'model'} has {has}: build the model with {kwargs} ({how})"
                       + (f"; preset {twin} is that model" if twin else ""))


def _fmt_field(value) -> str:
    """A spec value as a command-line flag takes it."""
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value) if value != "" else '""'


def _preset_with(spec) -> str | None:
    """A registered preset whose spec is `spec`, classes and input aside."""
    from ..registry import list_presets

    return next((p.name for p in list_presets() if type(p.spec) is type(spec)
                 and all(f in HEAD_FIELDS for f, _, _ in spec_diff(p.spec, spec))), None)


# spec fields that change nothing in eval mode: a checkpoint trained with dropout is the same network without it
INFERENCE_NEUTRAL = ("drop_rate", "drop_path_rate")


def refuse_contradiction(model: nn.Module, path, flag: str, name: str) -> bool:
    """Checkpoint `path` against `model`, built from the name the user gave (`flag name`: '--model resnet50'):
    False when the checkpoint carries no spec (the name says what it is); True when it does and `model` has that
    spec (dropout aside); else a WeightsError, since loading would change the network under the weights or put a
    random classifier in place of the trained one."""
    _, meta = read_checkpoint(path)
    if not meta:
        return False
    saved = from_dict(meta["spec"])
    differing = [(f, a, b) for f, a, b in spec_diff(saved, model.spec) if f not in INFERENCE_NEUTRAL]
    if not differing:
        return True
    shown = ", ".join(f"{f}={_fmt_field(b)} where it has {_fmt_field(a)}" for f, a, b in differing[:3])
    more = f" and {len(differing) - 3} more field(s)" if len(differing) > 3 else ""
    raise WeightsError(f"checkpoint {path} is a {meta.get('preset') or saved.family} with {saved.num_classes} "
                       f"classes, but {flag} {name} says {shown}{more}: drop {flag} (the checkpoint names its own "
                       "model) or pass a matching one")


def preprocessing_of(meta: dict, spec):
    """The checkpoint's preprocessing, or the default one at the spec's input size when it stores none."""
    pre = meta.get("preprocessing")
    return Preprocessing.from_dict(pre) if pre else Preprocessing(input_size=spec.input_size)


def checkpoint_file(source):
    """A run directory's last weights; any other source (a file, a state dict) as it is."""
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        from .rundir import find_weights

        return find_weights(source)
    return source


def load_model(path, rename: Mapping[str, str] | None = None) -> nn.Module:
    """Rebuild a model from a ResLab checkpoint (or a run directory's last one) alone: the one checkpoint-to-model
    path of every command. `rename` ({regex: replacement}) renames its keys first, as load_weights does.

    Spec, preprocessing and class names (`.classes`, None if the file has none) come from its metadata."""
    from ..models import build

    path = checkpoint_file(path)
    state, meta = read_checkpoint(path)
    if not meta:
        raise WeightsError(f"{path} carries no ResLab metadata (spec, preprocessing): load it with "
                           f"create_model(name, weights={str(path)!r}) and save it with "
                           "reslab.save_weights(model, 'name.safetensors', classes=[...])")
    model = build(from_dict(meta["spec"]))
    # the classes are checked against the classifier by read_checkpoint
    model.describe(preset=meta.get("preset"), preprocessing=preprocessing_of(meta, model.spec),
                   classes=meta.get("classes"))
    if rename:
        load_weights(model, path, rename=rename)
    else:
        load_state(model, state, meta, f"checkpoint {path}")
    return model
