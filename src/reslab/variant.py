"""A model named on the command line: a preset plus spec overrides, e.g. `resnet20_cifar:attention=se`.

Overrides follow the preset name, each as `:field=value` (tuples as comma-separated integers:
`resnet20_cifar:depths=2,2,2`). Lists of models are comma-separated; a comma followed by a digit belongs
to a tuple value, so `resnet20_cifar:depths=2,2,2,resnet32_cifar` names two models.
"""
from __future__ import annotations

import re

from .factory import resolve_spec
from .registry import get_preset
from .spec import SpecError

# a comma starts a new model name only when a letter follows it (tuple values are digits)
_MODEL_SEPARATOR = re.compile(r",(?=[A-Za-z_])")


def split_models(text: str) -> list[str]:
    """`a,b:depths=2,2,2,c` -> ['a', 'b:depths=2,2,2', 'c'] (blank entries dropped)."""
    return [m.strip() for m in _MODEL_SEPARATOR.split(text) if m.strip()]


def parse_variant(text: str) -> tuple[str, dict]:
    """'name:field=value:...' -> (preset name, typed overrides); unknown fields or bad values raise SpecError."""
    from .cli import parse_overrides

    name, *assignments = text.split(":")
    preset = get_preset(name)
    tokens = []
    for assignment in assignments:
        if "=" not in assignment:
            raise SpecError(f"{text!r}: override {assignment!r} must look like field=value")
        tokens.append("--" + assignment)
    return name, parse_overrides(tokens, preset.spec)


def variant_spec(text: str):
    """The spec a variant name stands for."""
    name, overrides = parse_variant(text)
    return resolve_spec(name, **overrides)


def slug(text: str) -> str:
    """A file-name-safe form of a variant name (for run directories)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")
