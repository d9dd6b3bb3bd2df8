"""The built-in default dataset: scikit-learn's bundled handwritten digits, upscaled to 32x32 RGB.

1,797 real 8x8 scans ship inside scikit-learn, so the default job needs no download.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .in_memory import TensorImages

CLASSES = [str(d) for d in range(10)]
VAL_FRACTION = 0.2
SPLIT_SEED = 0  # the split is fixed: every run, every machine sees the same validation images


def load_digits_split() -> dict[str, TensorImages]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0  # scanner levels 0..16
    images = F.interpolate(pixels, size=(32, 32), mode="bilinear", align_corners=False)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_val = int(len(labels) * VAL_FRACTION)
    val, train = order[:n_val], order[n_val:]
    return {"train": TensorImages(images[train], labels[train], CLASSES),
            "val": TensorImages(images[val], labels[val], CLASSES)}
