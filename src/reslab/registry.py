"""Preset name -> spec, with the paper it comes from and the numbers that paper reports."""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any

from .errors import ReslabError
from .spec.preprocessing import Preprocessing

class UnknownModelError(ReslabError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class Preset:
    name: str
    spec: Any
    family: str  # e.g. "ResNet", "ResNeXt"; groups presets in tables
    paper: str
    year: int
    idea: str = ""  # the one idea this variant added, in a line
    params_m_paper: float | None = None
    gmacs_paper: float | None = None  # papers' "FLOPs" are multiply-accumulates
    top1_paper: float | None = None
    timm: str | None = None  # the same model in timm / torchvision (oracles in the tests)
    torchvision: str | None = None
    preprocessing: Preprocessing = field(default_factory=Preprocessing)

    @property
    def short_paper(self) -> str:
        """'Authors, Title (arXiv:id)' -> 'Authors, Title'."""
        return self.paper.split(" (")[0]


# filled by the family modules of reslab.presets as they are imported (`import reslab` imports them all)
_PRESETS: dict[str, Preset] = {}


def register(preset: Preset) -> Preset:
    if preset.name in _PRESETS:
        raise ValueError(f"preset {preset.name!r} registered twice")
    _PRESETS[preset.name] = preset
    return preset


def get_preset(name: str) -> Preset:
    if name not in _PRESETS:
        close = difflib.get_close_matches(name, list(_PRESETS), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `reslab models` lists them all"
        raise UnknownModelError(f"unknown model {name!r}{hint}")
    return _PRESETS[name]


def get_spec(name: str):
    return get_preset(name).spec


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _PRESETS if fnmatch.fnmatch(n, pattern))


def list_presets(pattern: str = "*") -> list[Preset]:
    return [_PRESETS[n] for n in list_models(pattern)]
