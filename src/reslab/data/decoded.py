"""Small image-folder splits decoded once into one uint8 tensor, cached on disk between runs.

CIFAR-10's 45,000 JPEGs are 138 MB decoded: decoding them once takes seconds, decoding them every epoch costs
more than the training itself on a small CPU. The cache file is keyed by a fingerprint of the split (every
file's path, size and modification time), so changing, adding or removing an image builds a new one; it is
written whole or not at all, and a file that does not read back as the split it claims is rebuilt.
Splits whose images differ in size, or whose decoded size is over `MAX_BYTES`, stream from their files.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from ..util.files import atomic_write, describe_os_error, reslab_cache, write_bytes
from ..util.progress import ProgressBar
from .images import UnreadableImageError, open_image
from .in_memory import TensorImages

MAX_BYTES = 512 * 1024 ** 2  # CIFAR-10 is 138 MB decoded; ImageNet-size folders stream
FORMAT = 1  # bump when the cached layout changes


def decoded_split(folder, *, say=print, progress: bool = True) -> TensorImages | None:
    """The split `folder` (a CheckedImageFolder) as a TensorImages, from the cache or decoded now; None when it
    should stream from its files instead (images of different sizes, too large, or its first image unreadable)."""
    samples = folder.samples
    try:
        width, height = open_image(samples[0][0]).size
    except UnreadableImageError:
        return None
    if len(samples) * 3 * width * height > MAX_BYTES:
        return None
    path = reslab_cache() / "decoded" / f"{_fingerprint(folder)}.safetensors"
    cached = _read(path, folder)
    if cached is not None:
        return cached
    decoded = _decode(folder, (width, height), progress)
    if decoded is None:
        return None
    try:
        _write(path, decoded)
    except OSError as e:
        say(f"note: cannot cache the decoded images of {folder.root} in {path.parent} "
            f"({describe_os_error(e, with_name=False)}); this run keeps them in memory, the next decodes again")
    return decoded


def _fingerprint(folder) -> str:
    h = hashlib.sha256(f"{FORMAT}\n{Path(folder.root).resolve()}\n{json.dumps(folder.classes)}\n".encode())
    for path, label in folder.samples:
        st = os.stat(path)
        h.update(f"{path}\t{label}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _decode(folder, size: tuple[int, int], progress: bool) -> TensorImages | None:
    """Every image of the split, or None at the first image whose size differs from `size` or that cannot be
    decoded (that split streams, so each unreadable image is named and counted where it is met)."""
    samples = folder.samples
    images = np.empty((len(samples), size[1], size[0], 3), dtype=np.uint8)
    bar = ProgressBar(len(samples), f"decoding {folder.root} once", progress)
    for i, (path, _) in enumerate(samples):
        try:
            img = open_image(path)
        except UnreadableImageError:
            return None
        if img.size != size:
            return None
        images[i] = np.asarray(img)
        bar.update(i + 1, i + 1)
    return _tensor_images(folder, torch.from_numpy(images).permute(0, 3, 1, 2).contiguous())


def _tensor_images(folder, images: torch.Tensor) -> TensorImages:
    labels = torch.tensor([label for _, label in folder.samples], dtype=torch.long)
    return TensorImages(images, labels, folder.classes, names=[path for path, _ in folder.samples])


def _write(path: Path, decoded: TensorImages) -> None:
    from safetensors.torch import save

    data = save({"images": decoded.images}, metadata={"format": str(FORMAT)})
    atomic_write(path, lambda tmp: write_bytes(tmp, data))  # a full disk is an OSError, never a half file


def _read(path: Path, folder) -> TensorImages | None:
    """The cached split, or None when there is none or it is not a whole, consistent file (then it is rebuilt)."""
    if not path.is_file():
        return None
    from safetensors.torch import load_file

    try:
        images = load_file(path)["images"]
    except Exception:  # any damage at all (truncated, foreign, no such tensor): decode afresh
        return None
    whole = images.dtype == torch.uint8 and images.ndim == 4 and images.shape[:2] == (len(folder.samples), 3)
    return _tensor_images(folder, images) if whole else None
