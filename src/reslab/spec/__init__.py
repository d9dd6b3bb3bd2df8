"""A model is data: frozen specs that print, compare (`spec_diff`) and round-trip through JSON (`to_dict` /
`from_dict`). No torch here: a spec is checked before anything is built."""
from __future__ import annotations

import sys
from dataclasses import fields
from typing import Any

from .base import ACTIVATIONS, SpecError
from .convnext import ConvNeXtSpec
from .crnn import CRNNSpec
from .densenet import DenseNetSpec
from .preprocessing import Preprocessing
from .regnet import regnet_spec
from .resnet import CHOICES, PER_STAGE, ResNetSpec

# Every family's spec class, the one list a family joins: its module (spec/<family>.py) also estimates its size
# (approx_params), its builder (models/<family>.py) names the class, its presets (presets/) register themselves.
FAMILY_SPECS = (ResNetSpec, DenseNetSpec, ConvNeXtSpec, CRNNSpec)
# family name (the "family" key of to_dict) -> spec class
SPEC_TYPES: dict[str, type] = {cls.family: cls for cls in FAMILY_SPECS}


def from_dict(data: dict[str, Any]):
    """Rebuild a spec of any family from `to_dict()` output (e.g. JSON metadata of a checkpoint)."""
    data = dict(data)
    family = data.pop("family", "resnet")
    if family not in SPEC_TYPES:
        raise SpecError(f"unknown family {family!r}; known: {sorted(SPEC_TYPES)}")
    cls = SPEC_TYPES[family]
    if family == "resnet" and data.get("attention_position") == "3x3":
        # checkpoints written before attention_base existed: a gate after the 3x3 meant RegNetY's block-input base
        data.setdefault("attention_base", "block_input")
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise SpecError(f"unknown {family} spec field(s) {unknown}")
    return cls(**data)


def approx_params(spec) -> int:
    """Roughly the parameters of the network `spec` describes (within a small factor), without building it: each
    spec is checked against MAX_PARAMS and MAX_BLOCKS (spec.base) when it is made."""
    return sys.modules[type(spec).__module__].approx_params(spec)


def spec_diff(a, b) -> list[tuple[str, Any, Any]]:
    """The (field, value in a, value in b) triples that differ, in field order."""
    da, db = a.to_dict(), b.to_dict()
    return [(k, da.get(k), db.get(k)) for k in dict.fromkeys([*da, *db]) if da.get(k) != db.get(k)]


__all__ = ["ACTIVATIONS", "CHOICES", "PER_STAGE", "SPEC_TYPES", "ConvNeXtSpec", "DenseNetSpec", "Preprocessing",
           "ResNetSpec", "CRNNSpec", "SpecError", "approx_params", "from_dict", "regnet_spec", "spec_diff"]
