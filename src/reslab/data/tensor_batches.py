"""Batches cut straight from an in-memory uint8 tensor: pad-and-crop, flip, scale and normalise a whole batch at
once, with no per-image Python and no worker processes.

Used for in-memory splits whose images already have the training size and whose augmentation is the CIFAR one
(He et al. 2015, Sec. 4.2: 4-pixel zero padding, a random 32x32 crop, a random horizontal flip) or none. Each
image's crop offsets and flip are a hash of (seed, epoch, image index), like the per-image path's draws: what a
step sees does not depend on the batch size per process, on the number of processes or on where a run resumed.
"""
from __future__ import annotations

import torch

from .loader import Batch

_MIX = (0xFF51AFD7ED558CCD - 2 ** 64, 0xC4CEB9FE1A85EC53 - 2 ** 64)  # MurmurHash3's 64-bit finaliser, as int64


def _shift_right(h: torch.Tensor, bits: int) -> torch.Tensor:
    return (h >> bits) & ((1 << (64 - bits)) - 1)  # logical, not arithmetic, on int64


def _mix(h: torch.Tensor) -> torch.Tensor:
    """A bijective scrambling of 64-bit integers (products wrap around, as the finaliser intends)."""
    for m in _MIX:
        h = (h ^ _shift_right(h, 33)) * m
    return h ^ _shift_right(h, 33)


def sample_draws(seed: int, epoch: int, index: torch.Tensor, n: int) -> list[torch.Tensor]:
    """`n` pseudo-random non-negative integers per image, each a pure function of (seed, epoch, image index)."""
    key = _mix(_mix(torch.tensor([seed], dtype=torch.int64)) ^ epoch)
    h = _mix(index.to(torch.int64) ^ key)
    return [_mix(h ^ j) & (2 ** 62 - 1) for j in range(1, n + 1)]


class TensorBatches:
    """An iterable of Batch over the (epoch, index) keys of `sampler`, `batch_size` images at a time."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, sampler, batch_size: int, *, mean, std,
                 pad: int = 0, hflip: bool = False, seed: int = 0, drop_last: bool = False):
        self.images, self.labels, self.sampler, self.batch_size = images, labels, sampler, batch_size
        self.pad, self.hflip, self.seed, self.drop_last = pad, hflip, seed, drop_last
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        keys = list(self.sampler)
        stop = len(keys) - len(keys) % self.batch_size if self.drop_last else len(keys)
        for start in range(0, stop, self.batch_size):
            chunk = keys[start:start + self.batch_size]
            index = torch.tensor([i for _, i in chunk], dtype=torch.long)
            yield Batch(self.augment(chunk[0][0], index), self.labels[index])

    def augment(self, epoch: int, index: torch.Tensor) -> torch.Tensor:
        """The images at `index`, padded and randomly cropped, randomly flipped, as normalised float32."""
        x = self.images[index]
        if self.pad or self.hflip:
            dy, dx, flip = (d % m for d, m in zip(sample_draws(self.seed, epoch, index, 3),
                                                   (2 * self.pad + 1, 2 * self.pad + 1, 2)))
            if self.pad:
                x = _pad_crop(x, self.pad, dy, dx)
            if self.hflip:
                x = torch.where(flip.bool().view(-1, 1, 1, 1), x.flip(3), x)
        # the same float operations as the per-image transforms, so both paths give identical tensors
        return x.float().mul_(1.0 / 255).sub_(self.mean).div_(self.std)


def _pad_crop(x: torch.Tensor, pad: int, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Each image zero-padded by `pad` on every side, then cropped back to its size at offset (dy, dx)."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (dy.view(n, 1) + torch.arange(h)).view(n, 1, h, 1)
    cols = (dx.view(n, 1) + torch.arange(w)).view(n, 1, 1, w)
    return padded[torch.arange(n).view(n, 1, 1, 1), torch.arange(c).view(1, c, 1, 1), rows, cols]


def tensors_of(dataset) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(images, labels) of an in-memory split, through a --subset; None for a split read from files."""
    from .in_memory import TensorImages
    from .subset import ClassBalancedSubset

    if isinstance(dataset, ClassBalancedSubset) and isinstance(dataset.base, TensorImages):
        index = torch.tensor(dataset.indices, dtype=torch.long)
        return dataset.base.images[index], dataset.base.labels[index]
    if isinstance(dataset, TensorImages):
        return dataset.images, dataset.labels
    return None


def train_batches(dataset, cfg, pre, size: int, sampler, batch_size: int) -> TensorBatches | None:
    """Batch-at-a-time training batches when the split is in memory at `size` px and the recipe's augmentation is
    pad-and-crop / flip only; None when it needs the per-image transforms."""
    found = tensors_of(dataset)
    if (found is None or found[0].shape[-2:] != (size, size) or cfg.crop not in ("pad", "none")
            or cfg.color_jitter or cfg.auto_augment != "none" or cfg.random_erasing):
        return None
    return TensorBatches(*found, sampler, batch_size, mean=pre.mean, std=pre.std, pad=4 if cfg.crop == "pad" else 0,
                         hflip=cfg.hflip, seed=cfg.seed, drop_last=True)


def eval_batches(dataset, pre, size: int, sampler, batch_size: int) -> TensorBatches | None:
    """Evaluation batches from memory when the evaluation transform leaves the images as they are (they have
    the test size and the centre crop is the whole image)."""
    found = tensors_of(dataset)
    if found is None or found[0].shape[-2:] != (size, size) or int(round(size / pre.crop_pct)) != size:
        return None
    return TensorBatches(*found, sampler, batch_size, mean=pre.mean, std=pre.std)
