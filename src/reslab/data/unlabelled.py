"""Images without labels: a folder of images in any layout, or a labelled split with its labels hidden."""
from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from . import DataError, open_splits
from .image_folder import CheckedImageFolder
from .images import IMAGE_SUFFIXES, find_images

UNLABELLED = "(unlabelled)"


class ImageFiles(CheckedImageFolder):
    """Every image under `root`, at any depth, as one pseudo-class: what pre-training reads from a plain folder."""

    def __init__(self, root: Path):  # not super().__init__, which would ask for class folders
        self.root = Path(root)
        self.classes = [UNLABELLED]
        self.class_to_idx = {UNLABELLED: 0}
        self.samples = [(str(f), 0) for f in find_images(self.root)]
        self.targets = [0] * len(self.samples)
        if not self.samples:
            raise DataError(f"{root} holds no images (files ending {', '.join(IMAGE_SUFFIXES)})")


class WithoutLabels(Dataset):
    """A dataset whose every label reads -1: the unlabelled pool can never leak a label into training."""

    def __init__(self, base):
        self.base, self.classes = base, base.classes

    def __len__(self) -> int:
        return len(self.base)

    def load(self, index: int):
        return self.base.load(index)[0], -1

    def name(self, index: int) -> str:
        return self.base.name(index)


def open_images(data: str | None, *, decode: bool = True, say=print, progress: bool = True) -> dict:
    """{"train": images, "val": labelled images or None}: `data`'s splits when it has a train/ split (or is
    the digits or a CIFAR pickle directory), else every image under the folder, unlabelled."""
    from ..data.cifar_pickle import is_cifar_pickle_dir

    root = Path(data) if data is not None else None
    if root is None or data == "digits" or not root.is_dir() or is_cifar_pickle_dir(root) or (root / "train").is_dir():
        with_val = root is None or data == "digits" or not root.is_dir() or is_cifar_pickle_dir(root) \
            or (root / "val").is_dir()
        splits = open_splits(data, ("train", "val") if with_val else ("train",), decode=decode, say=say,
                             progress=progress)
        return {"train": splits["train"], "val": splits.get("val")}
    images = ImageFiles(root)
    if decode:
        from ..data.decoded import decoded_split

        images = decoded_split(images, say=say, progress=progress) or images
    return {"train": images, "val": None}
