"""Every registered family and a small preset of each, for the tests that run all families alike."""
from __future__ import annotations

import reslab
from reslab.spec import SPEC_TYPES, approx_params

FAMILY_NAMES = sorted(SPEC_TYPES)


def smallest_preset(family: str) -> str:
    """The preset of `family` with the fewest parameters (by the spec's estimate): quick to build and run."""
    presets = [p for p in reslab.list_presets() if p.spec.family == family]
    return min(presets, key=lambda p: (approx_params(p.spec), p.name)).name
