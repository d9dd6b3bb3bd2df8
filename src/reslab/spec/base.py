"""What every family's spec shares: it is frozen data that replaces fields, prints as JSON and checks its fields."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import fields
from typing import Any, ClassVar

from ..errors import ReslabError


# activation names every family may use (layers.make_act builds them)
ACTIVATIONS = ("relu", "leaky_relu", "leaky_relu_1e-3", "silu", "gelu")


class SpecError(ReslabError, ValueError):
    """An invalid spec: the message names the offending field(s) and says why."""


class SpecBase:
    """Mixed into each family's frozen dataclass: `family` names it in JSON; `tuple_fields` accept lists."""

    family: ClassVar[str]
    tuple_fields: ClassVar[tuple[str, ...]] = ()

    def _lists_to_tuples(self) -> None:
        for name in self.tuple_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    def replace(self, **changes: Any):
        names = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise SpecError(f"unknown {self.family} spec field(s) {unknown}; valid fields: {names}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"family": self.family, **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


# --- field checks, written once for every family ----------------------------------------------------------------
def is_int(value) -> bool:
    """An integer that is not a bool: `groups=True` is a mistake, not 1."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_ints(spec, names) -> None:
    for name in names:
        value = getattr(spec, name)
        if not is_int(value) or value < 1:
            raise SpecError(f"{name} must be a positive integer, got {value!r}")


def check_positive_int_tuples(spec, names) -> None:
    for name in names:
        values = getattr(spec, name)
        if not isinstance(values, tuple) or any(not is_int(v) or v < 1 for v in values):
            shown = list(values) if isinstance(values, tuple) else repr(values)
            raise SpecError(f"{name} must be positive integers, got {shown}")


def check_rates(spec, names) -> None:
    """Probabilities of dropping something: in [0, 1)."""
    for name in names:
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise SpecError(f"{name} must be in [0, 1), got {value!r}")


def check_bools(spec, names) -> None:
    for name in names:
        if not isinstance(getattr(spec, name), bool):
            raise SpecError(f"{name} must be true or false, got {getattr(spec, name)!r}")


def check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise SpecError(f"{name}={value!r} is not one of {list(allowed)}")


# --- size: bounded before anything is built ----------------------------------------------------------------------
# A checkpoint's spec is data: a damaged or hostile one ("depths of a million") would build for minutes and fill the
# memory. The bounds are generous: the largest preset has about 0.35 billion parameters, the deepest 600 blocks.
MAX_PARAMS = 2_000_000_000
MAX_BLOCKS = 10_000


def check_size(spec, blocks: int, params, fields: tuple[str, ...]) -> None:
    """SpecError when `spec` has more than MAX_BLOCKS blocks (dense layers, for DenseNet) or when `params()`, a
    rough count computed once the blocks are known to be few, exceeds MAX_PARAMS; `fields` are those that size it."""
    shown = ", ".join(f"{name} {_clipped(getattr(spec, name))}" for name in fields)
    if blocks > MAX_BLOCKS:
        raise SpecError(f"the {spec.family} spec has {blocks:,} blocks ({shown}), more than ResLab builds "
                        f"({MAX_BLOCKS:,}): check its {fields[0]}")
    count = params()
    if count > MAX_PARAMS:
        raise SpecError(f"the {spec.family} spec has about {count / 1e9:,.1f} billion parameters ({shown}), more "
                        f"than ResLab builds ({MAX_PARAMS / 1e9:.0f} billion): check its {' and '.join(fields)}")


def _clipped(value) -> str:
    text = str(list(value)) if isinstance(value, tuple) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
