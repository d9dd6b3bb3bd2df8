"""CIFAR-10 / CIFAR-100 in their Python-pickle release format (data_batch_*, test_batch / train, test)."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from .errors import DataError
from .in_memory import TensorImages

LAYOUTS = {  # marker file -> (train files, val files, label key, class-names file, class-names key)
    "batches.meta": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels", "batches.meta",
                     b"label_names"),
    "meta": (["train"], ["test"], b"fine_labels", "meta", b"fine_label_names"),
}


def is_cifar_pickle_dir(root: Path) -> bool:
    return any((root / marker).is_file() for marker in LAYOUTS)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError) as e:
        raise DataError(f"cannot read CIFAR batch {path}: {e}") from None


def load_cifar_pickle(root: Path) -> dict[str, TensorImages]:
    marker = next(m for m in LAYOUTS if (root / m).is_file())
    train_files, val_files, label_key, meta_file, names_key = LAYOUTS[marker]
    classes = [n.decode() for n in _unpickle(root / meta_file)[names_key]]

    def split(files: list[str]) -> TensorImages:
        missing = [f for f in files if not (root / f).is_file()]
        if missing:
            raise DataError(f"{root} looks like a CIFAR pickle directory but lacks {', '.join(missing)}")
        batches = [_unpickle(root / f) for f in files]
        data = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)  # stored as RGB planes
        labels = np.concatenate([np.asarray(b[label_key]) for b in batches])
        return TensorImages(torch.from_numpy(data), torch.from_numpy(labels).long(), classes)

    return {"train": split(train_files), "val": split(val_files)}
