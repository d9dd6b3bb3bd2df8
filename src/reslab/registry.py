"""Preset name -> spec, with the paper it comes from and the numbers that paper reports."""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any

from .errors import ReslabError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class UnknownModelError(ReslabError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class Preprocessing:
    """How images must be prepared for a model: travels with its weights."""

    input_size: int = 224
    crop_pct: float = 0.875  # evaluation: resize to input_size / crop_pct, then centre-crop input_size
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


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


_PRESETS: dict[str, Preset] = {}


def register(preset: Preset) -> Preset:
    if preset.name in _PRESETS:
        raise ValueError(f"preset {preset.name!r} registered twice")
    _PRESETS[preset.name] = preset
    return preset


def _presets() -> dict[str, Preset]:
    if not _PRESETS:
        from . import presets  # noqa: F401  (registers every family's presets)
    return _PRESETS


def get_preset(name: str) -> Preset:
    presets = _presets()
    if name not in presets:
        close = difflib.get_close_matches(name, list(presets), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `reslab models` lists them all"
        raise UnknownModelError(f"unknown model {name!r}{hint}")
    return presets[name]


def get_spec(name: str):
    return get_preset(name).spec


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _presets() if fnmatch.fnmatch(n, pattern))


def list_presets(pattern: str = "*") -> list[Preset]:
    return [_presets()[n] for n in list_models(pattern)]
