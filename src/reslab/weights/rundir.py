"""The files of a run directory, named here once (train writes them; resume, compare, the CLI and the loaders read
them), and the lookup of a run's weights."""
from __future__ import annotations

from pathlib import Path

from ..errors import ReslabError

CONFIG = "config.json"  # the run's TrainConfig: a resume reads its settings from here
METRICS = "metrics.csv"  # one row per saved epoch
TENSORBOARD = "tensorboard"  # a folder of TensorBoard event files
WEIGHTS = "last.safetensors"  # the last epoch's weights, loadable alone
EMA_WEIGHTS = "last_ema.safetensors"  # the same for the EMA copy, when the run keeps one
STATE = "state.safetensors"  # the resumable state: its existence means "this run can be resumed"
LEGACY_STATE = "state.pt"  # older ResLab runs: a pickle, never opened


def find_weights(checkpoint) -> Path:
    """A run directory's last weights, or a weights file itself."""
    path = Path(checkpoint)
    if path.is_dir():
        path = path / WEIGHTS
    if not path.is_file():
        raise ReslabError(f"no checkpoint at {path}: give a run directory or a .safetensors file")
    return path
