"""Checkpoints: weights as safetensors with metadata (loadable alone), and the training state for --resume.

Both files are written atomically (temporary file, then rename): a run killed while saving keeps the previous
checkpoint intact.
"""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..errors import ReslabError
from ..weights import atomic_write, save_weights

WEIGHTS = "last.safetensors"
EMA_WEIGHTS = "last_ema.safetensors"
STATE = "state.pt"


def rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save(run_dir: Path, model, *, optimizer, scaler, ema, epoch: int, step_in_epoch: int, global_step: int,
         classes: list[str], best: dict) -> None:
    """`epoch`/`step_in_epoch`: where a resumed run starts (the first batch not yet trained on)."""
    save_weights(model, run_dir / WEIGHTS, classes=classes, epoch=epoch)
    if ema is not None:
        save_weights(ema.model, run_dir / EMA_WEIGHTS, classes=classes, epoch=epoch, ema=True)
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None,
             "ema": ema.state_dict() if ema is not None else None, "rng": rng_state(), "epoch": epoch,
             "step_in_epoch": step_in_epoch, "global_step": global_step, "best": best}
    atomic_write(run_dir / STATE, lambda tmp: torch.save(state, tmp))


def load_state(run_dir: Path) -> dict:
    path = Path(run_dir) / STATE
    if not path.is_file():
        raise ReslabError(f"cannot resume from {run_dir}: no {STATE} there (is it a reslab run directory?)")
    return torch.load(path, map_location="cpu", weights_only=False)
