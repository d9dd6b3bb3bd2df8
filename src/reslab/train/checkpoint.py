"""Checkpoints: weights as safetensors with metadata (loadable alone), and the training state for --resume.

The resumable state is one safetensors file: its tensors (model, optimiser, EMA, RNG) plus a JSON skeleton of
everything else in its metadata, so one rename makes it whole and opening it never runs code (no pickle).
A checkpoint's files are all written to temporaries first and renamed only when every one was written: a run
killed or out of disk while saving keeps the previous complete checkpoint (or none).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import torch

from ..errors import ReslabError
from ..util.files import write_bytes, write_together
from ..weights import save_weights
from ..weights.reading import header

from ..rundir import EMA_WEIGHTS, LEGACY_STATE, STATE, WEIGHTS
FORMAT = "reslab-train-state/1"


class ResumeError(ReslabError):
    pass


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save(run_dir: Path, model, *, optimizer, scaler, ema, epoch: int, step_in_epoch: int, global_step: int,
         epochs: int, classes: list[str], best: dict, tally: list | None = None, also: dict | None = None) -> None:
    """`epoch`/`step_in_epoch`: where a resumed run starts (the first batch not yet trained on); `also`: more
    {path: writer} files to write together with the checkpoint (a replacing run's settings)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None,
             "ema": ema.state_dict() if ema is not None else None, "rng": rng_state(), "epoch": epoch,
             "step_in_epoch": step_in_epoch, "global_step": global_step, "epochs": epochs, "best": best,
             "tally": tally}
    files = {**(also or {}), run_dir / WEIGHTS: lambda tmp: save_weights(model, tmp, classes=classes, epoch=epoch)}
    if ema is not None:
        files[run_dir / EMA_WEIGHTS] = lambda tmp: save_weights(ema.model, tmp, classes=classes, epoch=epoch,
                                                               ema=True)
    files[run_dir / STATE] = lambda tmp: write_bytes(tmp, encode_state(state))  # last: "resumable"
    write_together(files)


def encode_state(state: dict) -> bytes:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _to_json(state, tensors)
    meta = {"format": FORMAT, "state": json.dumps(skeleton)}
    return safetensors.torch.save(tensors, metadata=meta)


def _to_json(obj, tensors: dict):
    """A JSON skeleton of `obj`, its tensors moved to `tensors`; every container is tagged so types round-trip."""
    if isinstance(obj, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = obj.detach().cpu().contiguous().clone()  # clone: safetensors refuses shared storage
        return {"tensor": name}
    if isinstance(obj, np.ndarray):
        return {"ndarray": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        return {"dict": [[k, _to_json(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {type(obj).__name__: [_to_json(v, tensors) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in the training state")


def _from_json(node, tensors: dict):
    if not isinstance(node, dict):
        return node
    (tag, value), *_ = node.items()
    if tag == "tensor":
        return tensors[value]
    if tag == "ndarray":
        return np.array(value, dtype=node["dtype"])
    if tag == "dict":
        return {k: _from_json(v, tensors) for k, v in value}
    items = [_from_json(v, tensors) for v in value]
    return tuple(items) if tag == "tuple" else items


def saved_epochs(run_dir: Path) -> int | None:
    """The run length its last checkpoint was saved with (a resume with --epochs changes it), or None; from the
    state file's metadata alone."""
    try:
        skeleton = json.loads(header(Path(run_dir) / STATE)["state"])
        return dict(skeleton["dict"]).get("epochs")
    except (KeyError, ValueError, TypeError):
        return None  # load_state says what is wrong with the file


def load_state(run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    path = run_dir / STATE
    if not path.is_file():
        if (run_dir / LEGACY_STATE).is_file():
            raise ResumeError(
                f"{run_dir} was saved by an older ResLab as {LEGACY_STATE}, a pickle that is never opened because "
                f"it could run code; continue from its weights instead: reslab train --weights "
                f"{run_dir / WEIGHTS} --output NEW_DIR ...")
        raise ResumeError(f"cannot resume from {run_dir}: no {STATE} there (a run that saved no checkpoint yet, "
                          f"or not a reslab run directory)")
    try:
        with safetensors.safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        return _from_json(json.loads(meta["state"]), tensors)
    except (OSError, ValueError, KeyError, TypeError, safetensors.SafetensorError) as e:
        raise ResumeError(f"cannot resume from {run_dir}: {path.name} is damaged or incomplete ({e}); start again "
                          f"from its weights: reslab train --weights {run_dir / WEIGHTS} --output NEW_DIR") from None
