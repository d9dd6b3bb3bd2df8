"""Where a run executes: the device named on the command line, checked (its precision: reslab.util.precision)."""
from __future__ import annotations

import torch

from ..errors import ReslabError


def pick_device(name: str) -> torch.device:
    """"auto" (a GPU when there is one) or a device this machine really has; anything else is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ReslabError(f"--device {name}: not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ReslabError(f"--device {name}: no CUDA GPU is available here; use --device cpu (or auto)")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ReslabError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                          f"numbered from 0")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ReslabError(f"--device {name}: Apple's MPS is not available here; use --device cpu (or auto)")
    return device

