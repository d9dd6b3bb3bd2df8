"""How images must be prepared for a model: travels with its weights, used by training, eval and predict alike."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .audio import AudioFeatures

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)



@dataclass(frozen=True)
class Preprocessing:
    """How images must be prepared for a model: travels with its weights."""

    input_size: int = 224
    crop_pct: float = 0.875  # evaluation: resize to input_size / crop_pct, then centre-crop input_size
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    # audio models: the clip's log-mel features, a one-channel image (size, crop, mean and std then unused)
    audio: AudioFeatures | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        if self.audio is None:
            del d["audio"]  # image preprocessing reads as it always has
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Preprocessing":
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        if isinstance(d.get("audio"), dict):
            d["audio"] = AudioFeatures(**d["audio"])
        return cls(**d)


def audio_preprocessing(features: AudioFeatures = AudioFeatures()) -> Preprocessing:
    """A model's preprocessing for clips: their log-mel features, a one-channel image normalised per clip."""
    return Preprocessing(input_size=features.n_mels, crop_pct=1.0, mean=(0.0,), std=(1.0,), audio=features)


def for_channels(pre: Preprocessing, in_chans: int) -> Preprocessing:
    """Mean and std with one value per input channel: a grey model (in_chans=1) gets the mean of the RGB values,
    as its first convolution gets the sum of the RGB filters; more channels repeat them, as the filters are."""
    if len(pre.mean) == in_chans or len(pre.mean) != 3:
        return pre
    if in_chans == 1:
        mean, std = (sum(pre.mean) / 3,), (sum(pre.std) / 3,)
    else:
        repeats = math.ceil(in_chans / 3)
        mean, std = (pre.mean * repeats)[:in_chans], (pre.std * repeats)[:in_chans]
    return dataclasses.replace(pre, mean=tuple(mean), std=tuple(std))
