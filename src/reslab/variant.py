"""A model named on the command line: a preset plus spec overrides, e.g. `resnet20_cifar:attention=se`.

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
from .spec import SpecError


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
    from .cli import parse_overrides

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
    return name, parse_overrides(tokens, preset.spec)


def variant_spec(text: str):
    """The spec a variant name stands for."""
    name, overrides = parse_variant(text)
    return resolve_spec(name, **overrides)


def slug(text: str) -> str:
    """A file-name-safe form of a variant name (for run directories)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")
