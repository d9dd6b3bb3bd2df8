"""Every registered family and its presets smallest first, for the tests that run all families alike."""
from __future__ import annotations

import reslab
from reslab.spec import SPEC_TYPES, approx_params

FAMILY_NAMES = sorted(SPEC_TYPES)


def presets_by_size(family: str) -> list:
    """The presets of `family`, fewest parameters (by the spec's estimate) first."""
    presets = [p for p in reslab.list_presets() if p.spec.family == family]
    return sorted(presets, key=lambda p: (approx_params(p.spec), p.name))


def smallest_preset(family: str) -> str:
    """The preset of `family` quickest to build and run."""
    return presets_by_size(family)[0].name
