"""Training augmentation of speech: additive noise at a drawn SNR on the waveform, a random shift of the
utterance in its window, and SpecAugment's frequency and time masks on the features (Park et al. 2019, Sec. 2).
Every draw comes from torch's global generator, which the loader seeds per (seed, epoch, clip)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AudioAugment:
    """What to do to training clips; the defaults and their reasons are TrainConfig's fields of the same names."""

    noise_p: float  # share of clips given white noise
    snr_db: tuple[float, float]  # signal-to-noise ratio drawn uniformly in this range
    freq_masks: int  # up to `freq_mask_bands` consecutive mel bands zeroed, this many times
    freq_mask_bands: int
    time_masks: int  # up to `time_mask_frames` consecutive frames zeroed, this many times
    time_mask_frames: int

    @classmethod
    def of(cls, cfg) -> "AudioAugment":
        """The augmentation a training config asks for; one SNR value is a fixed SNR."""
        low, high = cfg.snr_db[0], cfg.snr_db[-1]
        return cls(cfg.noise_p, (float(low), float(high)), cfg.freq_masks, cfg.freq_mask_bands, cfg.time_masks,
                   cfg.time_mask_frames)


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * torch.rand(()).item()


def add_noise(samples: torch.Tensor, snr_db: float) -> torch.Tensor:
    """White noise whose power is the clip's power / 10^(snr_db / 10); a silent clip stays silent."""
    power = samples.pow(2).mean()
    noise = torch.randn_like(samples) * torch.sqrt(power / 10 ** (snr_db / 10))
    return samples + noise


def noisy(samples: torch.Tensor, augment: AudioAugment) -> torch.Tensor:
    if len(samples) == 0 or torch.rand(()).item() >= augment.noise_p:
        return samples
    return add_noise(samples, _uniform(*augment.snr_db))


def mask(features: torch.Tensor, axis: int, count: int, widest: int) -> torch.Tensor:
    """`count` bands of 0..widest consecutive rows (axis 0) or frames (axis 1) set to 0, the normalised mean."""
    out = features.clone()
    size = features.shape[axis]
    for _ in range(count):
        width = int(torch.randint(0, min(widest, size) + 1, ()).item())
        start = int(torch.randint(0, size - width + 1, ()).item())
        out.narrow(axis, start, width).zero_()
    return out


def spec_augment(features: torch.Tensor, augment: AudioAugment) -> torch.Tensor:
    """Frequency then time masks on (n_mels, frames)."""
    features = mask(features, 0, augment.freq_masks, augment.freq_mask_bands)
    return mask(features, 1, augment.time_masks, augment.time_mask_frames)
