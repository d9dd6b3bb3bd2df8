"""The implementations of one model to measure: ResLab's, and timm's or torchvision's of the same design."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from torch import nn

from ..errors import ReslabError
from ..deploy.export import fold_bn
from ..complexity import cached_complexity, count_macs, count_params
from ..models import build
from ..registry import get_preset
from ..variant import parse_variant, variant_spec
from .settings import BenchError, BenchSettings

REFERENCES = ("timm", "torchvision")


@dataclass
class Candidate:
    impl: str
    model: nn.Module
    in_chans: int
    num_classes: int
    params: int
    macs: int


def build_candidates(name: str, settings: BenchSettings, against: tuple[str, ...],
                     notes: list[str]) -> list[Candidate]:
    preset_name, overrides = parse_variant(name)
    spec = variant_spec(name)
    size = settings.img_size or spec.input_size
    params, macs = complexity_at(name, spec, size)
    model = fold_bn(build(spec)) if settings.fold_bn else build(spec)
    out = [Candidate("reslab", model, spec.in_chans, spec.num_classes, params, macs)]
    preset = get_preset(preset_name)
    for lib in against:
        their_name = getattr(preset, lib)
        if overrides:
            notes.append(f"{name}: no {lib} counterpart for a model with spec overrides; measured ours only")
        elif their_name is None:
            notes.append(f"{name}: {lib} has no model of the same design; measured ours only")
        elif importlib.util.find_spec(lib) is None:
            notes.append(f"{name}: {lib} is not installed; measured ours only")
        else:
            model = reference_model(lib, their_name, spec.num_classes)
            out.append(Candidate(lib, model, spec.in_chans, spec.num_classes, count_params(model),
                                 count_macs(model, size, spec.in_chans)))
    return out


def complexity_at(name: str, spec, size: int, error: type[ReslabError] = BenchError,
                  frames: int | None = None) -> tuple[int, int]:
    """(parameters, MACs) at `size` px (and `frames` long, for an audio model); a size the network cannot take is
    bad input, said in one line."""
    try:
        return cached_complexity(spec, size, frames)
    except RuntimeError as e:
        if size == spec.input_size:  # the model's own size must work: that failure is a bug, not bad input
            raise
        reason = (str(e).strip().splitlines() or ["?"])[0]
        raise error(f"{name} cannot take {size} px inputs ({reason}); use a larger size, e.g. its own "
                    f"{spec.input_size}") from None


def reference_model(lib: str, name: str, num_classes: int) -> nn.Module:
    if lib == "timm":
        import timm

        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    import torchvision

    return torchvision.models.get_model(name, weights=None, num_classes=num_classes)
