"""A model named on the command line: a preset plus spec overrides, e.g. `resnet20_cifar:attention=se`, or the
same overrides as `--field value` options (`parse_overrides`), typed like the spec's own values.

Overrides follow the preset name, each as `:field=value`; a value with several parts (a tuple, or one value per
stage) is comma-separated: `resnet20_cifar:depths=2,2,2`, `resnet18:attention=se,se,none,none`.
Lists of models are comma-separated too: inside an override value, a comma starts a new model only when a
preset name follows it, so `resnet18:attention=se,se,none,none,resnet34` names two models.
"""
from __future__ import annotations

import dataclasses
import difflib
import re

from .factory import resolve_spec
from .registry import get_preset, list_models
from .spec import PER_STAGE, SpecError


def split_models(text: str) -> list[str]:
    """`a,b:depths=2,2,2,c` -> ['a', 'b:depths=2,2,2', 'c'] (blank entries dropped)."""
    presets = set(list_models())
    models: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        # a piece continues the previous model's last value unless it names a model itself
        if models and "=" in models[-1] and piece.split(":")[0] not in presets:
            models[-1] += "," + piece
        else:
            models.append(piece)
    return models


def parse_variant(text: str) -> tuple[str, dict]:
    """'name:field=value:...' -> (preset name, typed overrides); unknown fields or bad values raise SpecError."""
    name, *assignments = text.split(":")
    if not name:
        raise SpecError(f"{text!r}: a model name must come before the ':field=value' overrides")
    preset = get_preset(name)
    known = [f.name for f in dataclasses.fields(preset.spec)]
    tokens, seen = [], set()
    for assignment in assignments:
        field, _, value = assignment.partition("=")
        field = field.replace("-", "_")
        if not field or not value:
            raise SpecError(f"{text!r}: override {assignment!r} must look like field=value, "
                            "e.g. resnet18:attention=se")
        if field not in known:
            close = difflib.get_close_matches(field, known, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"`reslab info {name}` lists the fields"
            raise SpecError(f"{text!r}: {field!r} is not a spec field of {name}; {hint}")
        if field in seen:
            raise SpecError(f"{text!r}: {field} is given twice; give each field once")
        seen.add(field)
        tokens.append(f"--{field}={value}")
    return preset.name, parse_overrides(tokens, preset.spec)  # an old name resolves (and warns) once, here


def variant_spec(text: str):
    """The spec a variant name stands for."""
    name, overrides = parse_variant(text)
    return resolve_spec(name, **overrides)


def slug(text: str) -> str:
    """A file-name-safe form of a variant name (for run directories)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def parse_overrides(tokens: list[str], spec) -> dict:
    """Turn leftover `--field value` tokens into spec overrides, typed like the spec's current value."""
    names = {f.name for f in dataclasses.fields(spec)}
    out, i = {}, 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--"):
            raise SpecError(f"unexpected argument {tok!r}")
        name, value = tok[2:], None
        if "=" in name:  # split before renaming: in --widths=-1,... the value's dashes are the value's
            name, value = name.split("=", 1)
        name = name.replace("-", "_")
        if name not in names:
            raise SpecError(f"unknown option --{name.replace('_', '-')}: not a spec field; fields: {sorted(names)}")
        if value is None:
            if i + 1 >= len(tokens):
                raise SpecError(f"--{name.replace('_', '-')} needs a value")
            value, i = tokens[i + 1], i + 1
        out[name] = _coerce(name, value, getattr(spec, name))
        i += 1
    return out


def _coerce(name: str, value: str, current):
    """`value` typed like `current`; comma-separated for tuples and for fields that take one value per stage."""
    if isinstance(current, tuple) or (name in PER_STAGE and "," in value):
        sample = current[0] if isinstance(current, tuple) else current
        return tuple(_scalar(name, v.strip(), sample, "comma-separated ") for v in value.split(",") if v.strip())
    return _scalar(name, value, current)


def _scalar(name: str, value: str, current, many: str = ""):
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        raise SpecError(f"{name}={value!r}: expected {many}{type(current).__name__} values") from None
    return value
