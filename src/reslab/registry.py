"""Preset name -> spec, with the paper it comes from and the numbers that paper reports."""
from __future__ import annotations

import difflib
import fnmatch
import warnings
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


# old name -> (current preset name, what the old name stood for): renamed presets keep working
_ALIASES: dict[str, tuple[str, str]] = {}


def register_alias(old: str, current: str, meaning: str) -> None:
    if current not in _PRESETS or old in _PRESETS or old in _ALIASES:
        raise ValueError(f"alias {old!r} -> {current!r}: the preset must exist and the old name be free")
    _ALIASES[old] = (current, meaning)


def get_preset(name: str) -> Preset:
    if name in _ALIASES:
        current, meaning = _ALIASES[name]
        warnings.warn(f"{name!r} is an old name ({meaning}); the preset is {current!r}", FutureWarning, stacklevel=2)
        name = current
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
