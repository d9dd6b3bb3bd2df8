"""Parameters, multiply-accumulates and per-stage output shapes of a model, measured by running it."""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .files import cache_home


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, input_size: int, in_chans: int = 3) -> int:
    """Multiply-accumulates of one image (torch's flop counter reports 2 FLOPs per MAC)."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, in_chans, input_size, input_size)
    with FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // 2


@torch.no_grad()
def stage_shapes(model: nn.Module, input_size: int, in_chans: int = 3) -> list[tuple[str, tuple[int, ...]]]:
    """(name, output shape) of the stem and of each stage for one image."""
    was_training = model.training
    model.eval()
    x = model.forward_stem(torch.zeros(1, in_chans, input_size, input_size))
    shapes = [("stem", tuple(x.shape[1:]))]
    for i, stage in enumerate(model.stages):
        x = stage(x)
        shapes.append((f"stage{i + 1}", tuple(x.shape[1:])))
    model.train(was_training)
    return shapes


def spec_complexity(spec, input_size: int | None = None) -> tuple[int, int]:
    """(parameters, MACs) of a spec without allocating weights: the network is built on the meta device."""
    from .models import build

    with torch.device("meta"):
        model = build(spec).eval()
        x = torch.empty(1, spec.in_chans, input_size or spec.input_size, input_size or spec.input_size)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    return count_params(model), counter.get_total_flops() // 2


def _cache_file() -> Path:
    return cache_home() / "reslab" / "complexity.json"


@functools.lru_cache(maxsize=1)
def _builders_digest() -> str:
    """A digest of the code that turns specs into networks (models/ and layers/): a cached count is for the
    builders that made it, not for a spec whose builder has since changed."""
    package = Path(__file__).parent
    digest = hashlib.sha1()
    for path in sorted([*package.glob("models/*.py"), *package.glob("layers/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def cached_complexity(spec, input_size: int | None = None) -> tuple[int, int]:
    """`spec_complexity`, remembered on disk by the spec's JSON and the builders' code, so listing the zoo stays
    fast."""
    size = input_size or spec.input_size
    key = hashlib.sha1((spec.to_json() + f"@{size}#{_builders_digest()}").encode()).hexdigest()
    path = _cache_file()
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = spec_complexity(spec, size)
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
    """Parameters (count and millions), GMACs and stage output shapes at `input_size` (default: the model's)."""
    from .factory import create_model

    model = create_model(name_or_model) if isinstance(name_or_model, str) else name_or_model
    spec = getattr(model, "spec", None)
    size = input_size or (spec.input_size if spec is not None else 224)
    in_chans = spec.in_chans if spec is not None else 3
    params = count_params(model)
    macs = count_macs(model, size, in_chans)
    return {
        "name": name_or_model if isinstance(name_or_model, str) else getattr(model, "preset", None),
        "input_size": size,
        "params": params,
        "params_m": params / 1e6,
        "gmacs": macs / 1e9,
        "stages": stage_shapes(model, size, in_chans) if hasattr(model, "stages") else [],
    }
