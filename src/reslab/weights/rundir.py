"""Where a run directory keeps its weights (the file names: reslab.rundir)."""
from __future__ import annotations

from pathlib import Path

from ..errors import ReslabError
from ..rundir import WEIGHTS


def find_weights(checkpoint) -> Path:
    """A run directory's last weights, or a weights file itself."""
    path = Path(checkpoint)
    if path.is_dir():
        path = path / WEIGHTS
    if not path.is_file():
        raise ReslabError(f"no checkpoint at {path}: give a run directory or a .safetensors file")
    return path
