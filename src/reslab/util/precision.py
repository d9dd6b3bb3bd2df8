"""Mixed precision by name: the --amp choices and the autocast context that training, evaluation and bench share."""
from __future__ import annotations

import torch

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, amp: str):
    """Mixed precision as --amp says: bf16, fp16, or off (full precision)."""
    dtype = AMP_DTYPES[amp]
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
