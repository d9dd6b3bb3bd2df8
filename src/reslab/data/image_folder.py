"""ImageFolder splits (ROOT/<split>/<class>/<image>): torchvision finds the files, we check and load them.

An unreadable or truncated image does not stop a run: `load` returns None for it, and the batch collator
drops it and reports its path, so the engine can warn once and count it in the summary.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

from .errors import DataError


class CheckedImageFolder(ImageFolder):
    def __init__(self, root: Path):
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"dataset split {root} does not exist")
        class_dirs = sorted(d for d in root.iterdir() if d.is_dir())
        if not class_dirs:
            raise DataError(f"{root} holds no class directories: expected {root}/<class>/<image>")
        empty = [d.name for d in class_dirs
                 if not any(f.suffix.lower() in IMG_EXTENSIONS for f in d.rglob("*") if f.is_file())]
        if empty:
            raise DataError(f"{root}: class directories without images: {', '.join(empty)}")
        super().__init__(str(root), loader=_open_rgb)

    def load(self, index: int):
        path, label = self.samples[index]
        try:
            return _open_rgb(path), label
        except OSError:
            return None, label

    def name(self, index: int) -> str:
        return self.samples[index][0]


def _open_rgb(path: str) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")  # convert() decodes fully, so a truncated file fails here, not later
