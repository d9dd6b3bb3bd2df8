"""CIFAR-10 / CIFAR-100 in their Python-pickle release format (data_batch_*, test_batch / train, test).

The files are pickles, so they are read with an unpickler that can build only what the format holds
(containers, numbers, strings, bytes, numpy arrays): a crafted file cannot run code.
"""
from __future__ import annotations

import codecs
import functools
import pickle
from pathlib import Path

import numpy as np
import torch

from .errors import DataError
from .in_memory import TensorImages

LAYOUTS = {  # marker file -> (train files, val files, label key, class-names key); the marker holds the names
    "batches.meta": ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels", "label_names"),
    "meta": (["train"], ["test"], "fine_labels", "fine_label_names"),
}
PIXELS = 3 * 32 * 32


@functools.cache
def _allowed_globals() -> dict[tuple[str, str], object]:
    """Every global a CIFAR pickle may name: numpy's array, dtype and scalar rebuilders (numpy 1 and 2 module
    names), a few builtin containers (Python 2 and 3 names) and how protocol-2 pickles spell bytes."""
    core = np._core if hasattr(np, "_core") else np.core
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype, ("_codecs", "encode"): codecs.encode}
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = core.multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = core.multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = core.numeric._frombuffer
    for builtin in (set, frozenset, bytearray, complex):
        allowed[("builtins", builtin.__name__)] = allowed[("__builtin__", builtin.__name__)] = builtin
    return allowed


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _allowed_globals()[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a CIFAR batch never holds; "
                                         "refusing to run it") from None


def is_cifar_pickle_dir(root: Path) -> bool:
    """A marker file and its data files, or a marker and no ImageFolder splits: a stray `meta` is not enough."""
    images_folder = (root / "train").is_dir() or (root / "val").is_dir()
    return any((root / marker).is_file() and (not images_folder or all((root / f).is_file() for f in train + val))
               for marker, (train, val, *_) in LAYOUTS.items())


def _unpickle(path: Path) -> dict:
    """The batch at `path` as a dict with str keys (the release pickles have Python 2 byte-string keys)."""
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise DataError(f"cannot read CIFAR batch {path}: {e}") from None
    if not isinstance(batch, dict):
        raise DataError(f"cannot read CIFAR batch {path}: it holds a {type(batch).__name__}, not a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _field(batch: dict, key: str, path: Path):
    if key not in batch:
        raise DataError(f"CIFAR batch {path} has no {key!r} entry (it has {', '.join(map(str, batch))})")
    return batch[key]


def load_cifar_pickle(root: Path) -> dict[str, TensorImages]:
    marker = next(m for m in LAYOUTS if (root / m).is_file())
    train_files, val_files, label_key, names_key = LAYOUTS[marker]
    names = _field(_unpickle(root / marker), names_key, root / marker)
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    def split(files: list[str]) -> TensorImages:
        missing = [f for f in files if not (root / f).is_file()]
        if missing:
            raise DataError(f"{root} looks like a CIFAR pickle directory but lacks {', '.join(missing)}")
        data, labels = zip(*(_batch_arrays(root / f, label_key, len(classes)) for f in files))
        return TensorImages(torch.from_numpy(np.concatenate(data)), torch.from_numpy(np.concatenate(labels)),
                            classes)

    return {"train": split(train_files), "val": split(val_files)}


def _batch_arrays(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(N x 3 x 32 x 32 uint8 images, N int64 labels) of one batch file, checked against the format."""
    batch = _unpickle(path)
    data, labels = np.asarray(_field(batch, "data", path)), np.asarray(_field(batch, label_key, path))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        raise DataError(f"CIFAR batch {path}: 'data' is {data.dtype} {data.shape}, expected uint8 (N, {PIXELS})")
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"CIFAR batch {path}: {len(data)} images but labels of shape {labels.shape} ({labels.dtype})")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"CIFAR batch {path}: labels run from {labels.min()} to {labels.max()}, but there are "
                        f"{num_classes} class names")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)  # stored as RGB planes
