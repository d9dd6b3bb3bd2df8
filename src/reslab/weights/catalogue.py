"""The catalogue of published weights: `name.tag` (timm's convention and tag names) -> where the file is, what it
scored, and the preprocessing it was scored with.

The catalogue is data (catalogue.json beside this module, written by scripts/make_catalogue.py from timm's and
torchvision's own records); this module only reads it. Plain Python: no torch, no huggingface_hub.
"""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from ..spec import Preprocessing
from .errors import WeightsError

SOURCES = ("torchvision", "url", "hf", "package")


@dataclass(frozen=True)
class WeightSet:
    """One published set of weights for one preset."""

    tag: str  # 'resnet50.a1_in1k': preset name, a dot, timm's tag
    preset: str
    source: str  # torchvision | url (a plain download address, cached as torchvision's) | hf | package
    preprocessing: dict  # input_size, test_input_size, crop_pct, test_crop_pct, interpolation, mean, std
    num_classes: int
    url: str | None = None  # torchvision / url
    file_name: str | None = None  # torchvision / url: the name in torch.hub's cache; package: the shipped file
    sha256_prefix: str | None = None  # torch.hub's convention: first hex digits of the sha256, in the file name
    sha256: str | None = None  # the whole digest, where the source publishes it
    hf_repo: str | None = None
    hf_file: str | None = None
    layout: str = "auto"  # the checkpoint's key layout: timm, torchvision or reslab
    classes: str | None = None  # 'imagenet-1k': the class names are ImageNet's
    top1: float | None = None  # published ImageNet top-1 (%), as its source reports it
    top1_source: str | None = None
    params_m: float | None = None
    file_size_mb: float | None = None
    license: str | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)  # every other field of the entry, in the catalogue's order

    @property
    def name(self) -> str:
        """The tag without its preset: 'a1_in1k'."""
        return self.tag.split(".", 1)[1]

    @property
    def is_default(self) -> bool:
        return default_tag(self.preset) == self.tag

    def eval_preprocessing(self) -> Preprocessing:
        """The preprocessing these weights were scored with: the test size and crop where they differ from the
        training ones."""
        p = self.preprocessing
        return Preprocessing(input_size=int(p.get("test_input_size") or p["input_size"]),
                             crop_pct=float(p.get("test_crop_pct") or p["crop_pct"]),
                             interpolation=p["interpolation"], mean=tuple(p["mean"]), std=tuple(p["std"]))

    @property
    def size_mb(self) -> float | None:
        """The file size when the source says it, else estimated from the parameters (float32)."""
        if self.file_size_mb is not None:
            return self.file_size_mb
        return None if self.params_m is None else self.params_m * 4 * 1e6 / 2**20

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "extra"}
        return {**d, **self.extra}


@lru_cache(maxsize=1)
def _catalogue() -> dict:
    text = resources.files(__package__).joinpath("catalogue.json").read_text()
    data = json.loads(text)
    known = {f.name for f in dataclasses.fields(WeightSet)} - {"extra"}
    sets = {}
    for entry in data["tags"]:  # fields an entry adds (a package entry's recipe, epochs, seed, ...) go to .extra
        core = {k: v for k, v in entry.items() if k in known and v is not None}
        extra = {k: v for k, v in entry.items() if k not in known}
        sets[entry["tag"]] = WeightSet(**core, extra=extra)
    return {"sets": sets, "defaults": data.get("defaults", {}), "sources": data.get("sources", {})}


def list_weights(pattern: str = "*") -> list[WeightSet]:
    """Weight sets whose tag or preset matches the shell-style `pattern`, in catalogue order."""
    return [w for w in _catalogue()["sets"].values()
            if fnmatch.fnmatch(w.tag, pattern) or fnmatch.fnmatch(w.preset, pattern)]


def presets_with_weights() -> list[str]:
    return sorted({w.preset for w in _catalogue()["sets"].values()})


def default_tag(preset: str) -> str | None:
    """timm's default (first) tag of a preset, else torchvision's default, else the first catalogued one."""
    cat = _catalogue()
    if preset in cat["defaults"]:
        return cat["defaults"][preset]
    return next((w.tag for w in cat["sets"].values() if w.preset == preset), None)


def split_name(name: str) -> tuple[str, str | None]:
    """'resnet50.a1_in1k' -> ('resnet50', 'a1_in1k'); 'resnet50' -> ('resnet50', None)."""
    preset, dot, tag = name.partition(".")
    return preset, (tag if dot else None)


def get_weights(name: str) -> WeightSet:
    """The weight set `name` names: 'preset.tag', or a preset alone for its default weights.

    An old preset name (timm's `tv_resnet50`) stands for the weights it named (`resnet50.tv_in1k`)."""
    from ..presets.aliases import ALIASES
    from ..registry import UnknownModelError, get_preset

    if not isinstance(name, str) or not name:
        raise WeightsError(f"weights are named 'preset' or 'preset.tag' (e.g. 'resnet50.a1_in1k'), got {name!r}")
    sets = _catalogue()["sets"]
    if name in sets:
        return sets[name]
    preset, tag = split_name(name)
    if preset in ALIASES:
        preset, old_tag = ALIASES[preset]
        tag = tag or old_tag
        if f"{preset}.{tag}" in sets:
            return sets[f"{preset}.{tag}"]
    if tag is None:
        get_preset(preset)  # an unknown preset gets its own error, with close names
        default = default_tag(preset)
        if default is None:
            raise WeightsError(_no_weights_message(preset))
        return sets[default]
    own = [w.tag for w in sets.values() if w.preset == preset]
    if own:
        raise WeightsError(f"{preset} has no weights tagged {tag!r}" + _suggest(f"{preset}.{tag}", own)
                           + f" (`reslab weights list {preset}` shows its {len(own)})")
    try:
        get_preset(preset)
    except UnknownModelError:
        raise WeightsError(f"unknown weights {name!r}: no preset {preset!r}" + _suggest(name, list(sets))) from None
    raise WeightsError(_no_weights_message(preset))


def _suggest(name: str, tags: list[str]) -> str:
    close = difflib.get_close_matches(name, tags, n=5, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _no_weights_message(preset: str) -> str:
    have = presets_with_weights()
    close = difflib.get_close_matches(preset, have, n=5, cutoff=0.6) or [p for p in have if p.startswith("resnet")][:5]
    return (f"{preset} has no published weights; {len(have)} presets have, e.g. {', '.join(close)} "
            f"(`reslab weights list` shows every tag); or pass weights=PATH of your own")


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[list[str], list[str]]:
    """ImageNet-1k's (class names, WordNet ids) in class-index order."""
    data = json.loads(resources.files(__package__).joinpath("imagenet_classes.json").read_text())
    return list(data["names"]), list(data["wnids"])


def class_names(ws: WeightSet) -> tuple[list[str] | None, list[str] | None]:
    """(names, ids) of the classes these weights predict, or (None, None) when the catalogue does not know them."""
    if ws.classes == "imagenet-1k" and ws.num_classes == 1000:
        return imagenet_classes()
    names = ws.extra.get("class_names")
    return (list(names), None) if isinstance(names, list) else (None, None)
