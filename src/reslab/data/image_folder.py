"""ImageFolder splits (ROOT/<split>/<class>/<image>): found by the shared folder scan, decoded by the shared decoder.

An unreadable or truncated image does not stop a run: `load` returns None for it, and the batch collator
drops it and reports its path, so the engine can warn once and count it in the summary.
"""
from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from .errors import DataError
from .images import IMAGE_SUFFIXES, UnreadableImageError, check_every_class_found, find_images, open_image


class CheckedImageFolder(Dataset):
    """`classes` (sorted sub-folder names, hidden ones skipped), `samples` [(path, label)], `targets` [label]."""

    def __init__(self, root: Path):
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"dataset split {root} does not exist" if not root.exists() else
                            f"dataset split {root} is a file, not a folder of class folders")
        self.root = root
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not self.classes:
            raise DataError(f"{root} holds no class directories: expected {root}/<class>/<image>")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        # one scan of the whole split, so an image linked into two classes is caught too
        self.samples = [(str(f), self.class_to_idx[f.relative_to(root).parts[0]]) for f in find_images(root)
                        if len(f.relative_to(root).parts) > 1]
        self.targets = [label for _, label in self.samples]
        check_every_class_found(root, self.classes, self.targets, "images", IMAGE_SUFFIXES)

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int):
        """(RGB image, label), or (None, label) for a file that cannot be decoded."""
        path, label = self.samples[index]
        try:
            return open_image(path), label
        except UnreadableImageError:
            return None, label

    def name(self, index: int) -> str:
        return self.samples[index][0]
