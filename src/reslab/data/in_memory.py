"""A dataset held as one uint8 tensor (digits, CIFAR pickles): no files, no decoding."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors


class TensorImages(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str]):
        self.images, self.labels, self.classes = images, labels, list(classes)  # images: N x C x H x W uint8
        self.targets = labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def load(self, index: int):
        """The raw image (a tv_tensors.Image, which v2 transforms understand) and its label."""
        return tv_tensors.Image(self.images[index]), self.targets[index]

    def name(self, index: int) -> str:
        return f"#{index}"
