"""Reading checkpoints: the file format from its first bytes, containers and wrapper prefixes unwrapped, and ResLab's
JSON metadata checked field by field.

Nothing here unpickles code: safetensors files are plain tensors and other files go through
`torch.load(weights_only=True)`.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import re
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError, safe_open

from ..errors import ReslabError
from ..spec import Preprocessing, from_dict
from .errors import WeightsError

METADATA_KEY = "reslab"
CONTAINER_KEYS = ("state_dict", "model", "model_state_dict")  # training checkpoints nest the weights
EMA_KEYS = ("state_dict_ema", "model_ema")  # timm's and others' exponential-moving-average weights beside them
# added to every key by DataParallel/DDP, by torch.compile, and by a PyTorch-Lightning module holding the network
WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.", "net.")
FORMATS_READ = "safetensors, or a torch.save file of tensors (.pth, .pt, .bin, ...)"
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "lanczos")


def read_checkpoint(source, *, ema: bool = False) -> tuple[dict[str, torch.Tensor], dict]:
    """(state dict, ResLab metadata or {}) from a path or a mapping, without executing pickled code.

    The format comes from the file's first bytes, whatever its name; metadata is checked field by field.
    Training checkpoints (timm, PyTorch-Lightning, ...) are unwrapped to their weights: the plain ones, or with
    `ema` the exponential moving average ('state_dict_ema' / 'model_ema'), which must then be there.
    """
    if isinstance(source, Mapping):
        return _unwrap(dict(source), "the state dict", ema), {}
    if not isinstance(source, (str, os.PathLike)):
        raise WeightsError(f"weights must be a checkpoint path or a state dict, not a {type(source).__name__}")
    path = Path(source)
    if sniff_format(path) == "safetensors":
        return _read_safetensors(path, ema)
    return _read_torch(path, ema), {}


def sniff_format(path: Path) -> str:
    """'safetensors' (8-byte header length, then a JSON object) or 'torch' (a zip archive or a legacy pickle)."""
    if path.is_dir():
        raise WeightsError(f"{path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise WeightsError(f"checkpoint {str(path)!r} does not exist")
    with path.open("rb") as f:
        head = f.read(9)
    if not head:
        raise WeightsError(f"{path} is empty (0 bytes): an interrupted download or copy? Get the file again")
    if head[8:9] == b"{":
        return "safetensors"
    if head.startswith((b"PK", b"\x80")):
        return "torch"
    raise WeightsError(f"{path} is not a checkpoint: its content is none of the formats ResLab reads "
                       f"({FORMATS_READ})")


def header(path) -> dict[str, str]:
    """A safetensors file's metadata strings, from its header alone (no tensor is read); {} for a file that has none
    or is no safetensors file at all (reading it in full says what is wrong with it)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (OSError, ValueError, SafetensorError):
        return {}


def _read_safetensors(path: Path, ema: bool = False) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(METADATA_KEY)
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types for a damaged header or missing bytes
        raise WeightsError(f"{path} is a damaged or truncated safetensors file ({_first_line(e)})") from None
    meta = {} if raw is None else parse_metadata(path, raw)
    # a ResLab run writes its EMA weights as a checkpoint of their own, marked so in the metadata
    return _unwrap(state, path, ema and not meta.get("ema")), meta


def _read_torch(path: Path, ema: bool = False) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols on its way to refusing them
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" (it references {found.group(1)})" if found else ""
        raise WeightsError(f"{path} holds pickled Python objects{what}, not only tensors: refused, since unpickling "
                           "can run code; save model.state_dict() with torch.save or as safetensors") from None
    except Exception as e:  # a torch file cut short or damaged
        raise WeightsError(f"{path} is a damaged or truncated PyTorch file ({_first_line(e)})") from None
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict (names mapped to tensors)")
    return _unwrap(dict(obj), path, ema)


def _first_line(e: BaseException) -> str:
    return f"{type(e).__name__}: " + (str(e).strip().splitlines() or [""])[0]


def _unwrap(obj: dict, origin, ema: bool = False) -> dict[str, torch.Tensor]:
    """Accept the usual containers ({'state_dict': ...}, {'model': ...}, Lightning's, EMA weights beside the plain
    ones) and strip wrapper prefixes. Everything else in a training checkpoint (epoch, hyperparameters,
    optimizer state) is ignored."""
    plain = next((k for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
    averaged = next((k for k in EMA_KEYS if isinstance(obj.get(k), Mapping)), None)
    if ema and averaged is None:
        raise WeightsError(f"{origin} has no EMA weights (no {' or '.join(map(repr, EMA_KEYS))} entry): "
                           + _what_it_holds(obj) + "; load it without ema=True")
    if ema:
        obj = dict(obj[averaged])
    elif plain is not None:
        obj = dict(obj[plain])
    elif averaged is not None:
        raise WeightsError(f"{origin} holds only EMA weights ({averaged!r}), no plain ones "
                           f"({' or '.join(map(repr, CONTAINER_KEYS))}): load them with ema=True")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{origin} is not a state dict: entries {bad[:5]} are not named tensors")
    if not obj:
        raise WeightsError(f"{origin} holds no tensors")
    while prefix := next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in obj)), None):
        obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def _keys(obj: dict) -> str:
    names = [k if isinstance(k, str) else repr(k) for k in obj]
    return ", ".join(map(repr, names[:8])) + (f" and {len(names) - 8} more" if len(names) > 8 else "") or "nothing"


def _what_it_holds(obj: dict) -> str:
    if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return f"it is a plain state dict of {len(obj)} tensors ({_keys(obj)})"
    return f"its keys are {_keys(obj)}"


def parse_metadata(path, raw: str) -> dict:
    """ResLab's JSON metadata, checked so that a damaged file fails here, naming the file and the field."""
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise WeightsError(f"{path}: its ResLab metadata is not valid JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(meta, dict):
        raise WeightsError(f"{path}: its ResLab metadata is a JSON {type(meta).__name__}, not an object")
    if "spec" not in meta:
        raise WeightsError(f"{path}: its ResLab metadata has no 'spec' field")
    spec = _field(path, "spec", meta["spec"], from_dict)
    if meta.get("preprocessing") is not None:
        _field(path, "preprocessing", meta["preprocessing"], check_preprocessing)
    if meta.get("classes") is not None:
        _field(path, "classes", meta["classes"], lambda classes: _check_classes(classes, spec.num_classes))
    return meta


def _field(path, name: str, value, parse):
    """parse(value) for metadata field `name`; any complaint becomes one WeightsError naming file and field."""
    if name != "classes" and not isinstance(value, dict):
        raise WeightsError(f"{path}: metadata field {name!r} must be a JSON object, got {type(value).__name__}")
    try:
        return parse(value)
    except (ReslabError, TypeError, ValueError) as e:  # SpecError, or a wrongly typed value
        raise WeightsError(f"{path}: metadata field {name!r} is invalid: {e}") from None


# presets and published weights are scored at well under 1,000 px (the largest preset input: resnest269e's 416); a
# checkpoint asking for more than this is damaged or hostile (100,000 px a side would take minutes and gigabytes)
MAX_INPUT_SIZE = 4096


def check_preprocessing(d: dict):
    """A Preprocessing from metadata; ValueError naming the first unusable value."""
    unknown = sorted(set(d) - {f.name for f in fields(Preprocessing)})
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}")
    pre = Preprocessing.from_dict(d)
    if not _is_int(pre.input_size) or not 1 <= pre.input_size <= MAX_INPUT_SIZE:
        raise ValueError(f"input_size must be a whole number of pixels from 1 to {MAX_INPUT_SIZE}, got "
                         f"{pre.input_size!r}")
    if not (_is_number(pre.crop_pct) and 0 < pre.crop_pct <= 1):
        raise ValueError(f"crop_pct must be in (0, 1], got {pre.crop_pct!r}")
    if pre.interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation {pre.interpolation!r} is not one of {list(INTERPOLATIONS)}")
    for name in ("mean", "std"):
        values = getattr(pre, name)
        if not isinstance(values, tuple) or not values or not all(map(_is_number, values)):
            raise ValueError(f"{name} must be a list of numbers, got {values!r}")
    if len(pre.mean) != len(pre.std) or min(pre.std) <= 0:
        raise ValueError(f"std must be positive numbers, one per mean value, got mean {list(pre.mean)}, "
                         f"std {list(pre.std)}")
    return pre


def _check_classes(classes, num_classes: int) -> None:
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"must be a list of class names (strings), got {classes!r:.80}")
    if len(classes) != num_classes:
        raise ValueError(f"it names {len(classes)} classes but the classifier has {num_classes} outputs")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)

