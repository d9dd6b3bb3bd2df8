"""Writing weights atomically: ResLab checkpoints (safetensors + JSON metadata checked as a reader will) or a
timm / torchvision / transformers layout."""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_save
from torch import nn

from ..util.files import atomic_write, write_bytes
from .errors import WeightsError
from .layouts import HEAD_PREFIXES, TRANSFORMERS_ACTS, find_layout, transformers_misfits
from .reading import METADATA_KEY, parse_metadata


def metadata_of(model: nn.Module, **extra) -> dict:
    spec = model.spec
    pre, classes = model.preprocessing, model.classes
    return {"format": "reslab", "version": 1, "preset": model.preset, "spec": spec.to_dict(),
            "num_classes": spec.num_classes, "input_size": spec.input_size,
            "preprocessing": pre.to_dict(),
            **({"classes": list(classes)} if classes is not None else {}), **extra}


def torch_bytes(obj) -> bytes:
    """torch.save into memory, so that the file itself is written by write_bytes."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def save_weights(model: nn.Module, path, *, layout: str = "reslab", **metadata) -> Path:
    """Write the weights atomically. `layout="reslab"` writes safetensors with JSON metadata (spec, classes,
    input size, preprocessing); "timm"/"torchvision"/"transformers" rename the keys so the oracle's
    `load_state_dict` takes them (safetensors if the path ends so, else a tensor-only torch file). "transformers"
    writes the keys of `ResNetForImageClassification` built from `transformers_config(model)`."""
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if layout == "reslab":
        if path.suffix != ".safetensors":
            raise WeightsError(f"ResLab checkpoints are safetensors files: name it {path.stem}.safetensors")
        data = safetensors_save(state, metadata={METADATA_KEY: _metadata_json(model, path, metadata)})
    else:
        conv = find_layout(model, layout)
        if conv.head_is_conv:
            state = {k: v[..., None, None] if k.startswith(HEAD_PREFIXES) and v.ndim == 2 else v
                     for k, v in state.items()}
        if conv.tensor_from_reslab is not None:
            state = {k: conv.tensor_from_reslab(model.spec, k, v) for k, v in state.items()}
        state = {conv.from_reslab(k): v for k, v in state.items()}
        data = safetensors_save(state) if path.suffix == ".safetensors" else torch_bytes(state)
    atomic_write(path, lambda tmp: write_bytes(tmp, data))
    return path


def _metadata_json(model: nn.Module, path: Path, extra: dict) -> str:
    """The metadata as JSON, checked as a reader will check it: never write a file that cannot be read back."""
    try:
        text = json.dumps(metadata_of(model, **extra))
    except TypeError as e:
        raise WeightsError(f"cannot save {path}: metadata must be JSON values ({e})") from None
    parse_metadata(f"cannot save {path}", text)
    return text


def transformers_config(model: nn.Module) -> dict:
    """The arguments of transformers' `ResNetConfig` for the network `model` is, so that
    `ResNetForImageClassification(ResNetConfig(**transformers_config(model)))` takes
    `save_weights(model, path, layout="transformers")` and computes the same logits (write it to config.json beside
    the weights for `from_pretrained`). WeightsError when transformers' ResNet cannot express the spec."""
    spec = getattr(model, "spec", None)
    if spec is None:
        raise WeightsError(f"{type(model).__name__} is not a ResLab model (it has no .spec)")
    misfits = transformers_misfits(spec)
    if misfits:
        raise WeightsError(f"transformers' ResNet cannot express {getattr(model, 'preset', None) or 'this model'}: "
                           + "; ".join(misfits))
    bottleneck = spec.at("block", 0) == "bottleneck"
    return {"num_channels": spec.in_chans, "embedding_size": spec.stem_channels,
            "hidden_sizes": list(spec.stage_channels), "depths": list(spec.depths),
            "layer_type": "bottleneck" if bottleneck else "basic",
            "hidden_act": TRANSFORMERS_ACTS[spec.stem_act or spec.act],  # the stem's and after the addition
            "downsample_in_first_stage": spec.strides[0] == 2,
            "downsample_in_bottleneck": bottleneck and spec.stride_on == "1x1", "num_labels": spec.num_classes}
