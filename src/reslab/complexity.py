"""Parameters, multiply-accumulates and per-stage output shapes of a model, measured by running it on the input its
family counts a cost on (`FamilyModel.cost_input_shape`: a square image, or for an audio model a second of frames)."""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import torch
from torch import nn

from .util.files import reslab_cache
from .models.cost import evaluating, mac_counter, meta_macs, on_meta
from .models.protocol import FamilyModel


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def audio_frames(preprocessing) -> int | None:
    """The frames of one second of `preprocessing`'s audio features (what an audio model's cost is counted on), or
    None for an image model's preprocessing."""
    audio = getattr(preprocessing, "audio", None)
    return audio.frames(audio.sample_rate) if audio is not None else None


def cost_input_shape(model: nn.Module, input_size: int, in_chans: int = 3,
                     frames: int | None = None) -> tuple[int, ...]:
    """The input a cost is counted on: the family's (`FamilyModel.cost_input_shape`); a square image for others."""
    if isinstance(model, FamilyModel):
        return model.cost_input_shape(input_size, frames)
    return (1, in_chans, input_size, input_size)


@torch.no_grad()
def count_macs(model: nn.Module, input_size: int, in_chans: int = 3, frames: int | None = None) -> int:
    """Multiply-accumulates of one input: one image, or `frames` of audio (default: the family's second)."""
    shape = cost_input_shape(model, input_size, in_chans, frames)
    if isinstance(model, FamilyModel):
        return model.count_macs(shape)
    with evaluating(model), mac_counter() as macs:  # timm's or torchvision's network, in bench
        model(torch.zeros(shape))
    return macs()


@torch.no_grad()
def stage_shapes(model: nn.Module, input_size: int, in_chans: int = 3,
                 frames: int | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of the stem and of each stage for one input, as `count_macs` counts it on."""
    with evaluating(model):
        x = model.forward_stem(torch.zeros(cost_input_shape(model, input_size, in_chans, frames)))
        shapes = [("stem", tuple(x.shape[1:]))]
        for i, stage in enumerate(model.stages):
            x = stage(x)
            shapes.append((f"stage{i + 1}", tuple(x.shape[1:])))
    return shapes


def spec_complexity(spec, input_size: int | None = None, frames: int | None = None) -> tuple[int, int]:
    """(parameters, MACs) of a spec without allocating weights: the network is built on the meta device."""
    from .models import build

    model = on_meta(lambda: build(spec))
    return count_params(model), meta_macs(model, model.cost_input_shape(input_size, frames))


def _cache_file() -> Path:
    return reslab_cache() / "complexity.json"


@functools.lru_cache(maxsize=1)
def _builders_digest() -> str:
    """A digest of the code that turns specs into networks (models/ and layers/): a cached count is for the
    builders that made it, not for a spec whose builder has since changed."""
    package = Path(__file__).parent
    digest = hashlib.sha1()
    for path in sorted([*package.glob("models/*.py"), *package.glob("layers/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def cached_complexity(spec, input_size: int | None = None, frames: int | None = None) -> tuple[int, int]:
    """`spec_complexity`, remembered on disk by the spec's JSON, the input and the builders' code, so listing the
    zoo stays fast."""
    size = input_size or spec.input_size
    length = f"x{frames}" if frames else ""
    key = hashlib.sha1((spec.to_json() + f"@{size}{length}#{_builders_digest()}").encode()).hexdigest()
    path = _cache_file()
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = spec_complexity(spec, size, frames)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home only costs speed
    params, macs = cache[key]
    return params, macs


def model_info(name_or_model, input_size: int | None = None) -> dict:
    """Parameters (count and millions), GMACs and stage output shapes at `input_size` (default: the model's; an
    audio model's on one second of its features)."""
    from .factory import create_model

    model = create_model(name_or_model) if isinstance(name_or_model, str) else name_or_model
    spec = getattr(model, "spec", None)
    size = input_size or (spec.input_size if spec is not None else 224)
    in_chans = spec.in_chans if spec is not None else 3
    frames = audio_frames(getattr(model, "preprocessing", None))
    params = count_params(model)
    macs = count_macs(model, size, in_chans, frames)
    return {
        "name": name_or_model if isinstance(name_or_model, str) else getattr(model, "preset", None),
        "input_size": size,
        "params": params,
        "params_m": params / 1e6,
        "gmacs": macs / 1e9,
        "stages": stage_shapes(model, size, in_chans, frames) if hasattr(model, "stages") else [],
    }
