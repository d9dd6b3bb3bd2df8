"""A dataset held as one uint8 tensor (digits, CIFAR pickles, decoded image folders): no files, no decoding."""
from __future__ import annotations

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors


class TensorImages(Dataset):
    """`names`: the files the images were decoded from (data.decoded); `load` then gives PIL images, so that the
    per-image transforms compute exactly what they compute on the files."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str], names: list[str] | None = None):
        self.images, self.labels, self.classes = images, labels, list(classes)  # images: N x C x H x W uint8
        self.targets = labels.tolist()
        self.names = names

    def __len__(self) -> int:
        return len(self.labels)

    def load(self, index: int):
        """The raw image (a tv_tensors.Image, which v2 transforms understand, or the decoded file's PIL image)
        and its label."""
        if self.names is not None:
            return Image.fromarray(self.images[index].permute(1, 2, 0).numpy()), self.targets[index]
        return tv_tensors.Image(self.images[index]), self.targets[index]

    def name(self, index: int) -> str:
        return self.names[index] if self.names is not None else f"#{index}"
