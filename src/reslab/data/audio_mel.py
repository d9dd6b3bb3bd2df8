"""Log-mel spectrograms with torch: a power STFT, a triangular mel filterbank (HTK or Slaney scale), a log, and
per-utterance normalisation (Davis & Mermelstein 1980 for mel bands; the Slaney scale and area norm follow
Slaney's Auditory Toolbox, 1998)."""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from ..spec.audio import AudioFeatures

SLANEY_BREAK_HZ = 1000.0  # linear below, logarithmic above
SLANEY_LOG_STEP = math.log(6.4) / 27.0  # 27 mel steps per factor 6.4 in frequency above the break
NORM_FLOOR = 1e-3  # smallest std a clip is divided by: a silent (constant) clip normalises to zeros


def hz_to_mel(hz: torch.Tensor, scale: str) -> torch.Tensor:
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    linear = hz * 3.0 / 200.0  # 200/3 Hz per mel below the break
    above = 15.0 + torch.log(hz.clamp(min=SLANEY_BREAK_HZ) / SLANEY_BREAK_HZ) / SLANEY_LOG_STEP
    return torch.where(hz < SLANEY_BREAK_HZ, linear, above)


def mel_to_hz(mel: torch.Tensor, scale: str) -> torch.Tensor:
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    linear = mel * 200.0 / 3.0
    above = SLANEY_BREAK_HZ * torch.exp(SLANEY_LOG_STEP * (mel - 15.0))
    return torch.where(mel < 15.0, linear, above)


def mel_filterbank(n_freqs: int, n_mels: int, f_min: float, f_max: float, sample_rate: int,
                   scale: str = "slaney") -> torch.Tensor:
    """(n_freqs, n_mels) triangles over the STFT bins 0..sample_rate/2, their peaks equally spaced in mel; the
    Slaney scale also divides each by its width in Hz, so every band sums the same energy from white noise."""
    mels = torch.linspace(float(hz_to_mel(torch.tensor(f_min, dtype=torch.float64), scale)),
                          float(hz_to_mel(torch.tensor(f_max, dtype=torch.float64), scale)), n_mels + 2,
                          dtype=torch.float64)
    edges = mel_to_hz(mels, scale)  # left foot, peak, right foot of band i: edges[i], edges[i + 1], edges[i + 2]
    bins = torch.linspace(0.0, sample_rate / 2, n_freqs, dtype=torch.float64)[:, None]
    rising = (bins - edges[:-2]) / (edges[1:-1] - edges[:-2])
    falling = (edges[2:] - bins) / (edges[2:] - edges[1:-1])
    bank = torch.minimum(rising, falling).clamp(min=0.0)
    if scale == "slaney":
        bank = bank * (2.0 / (edges[2:] - edges[:-2]))
    return bank.to(torch.float32)


@lru_cache(maxsize=8)
def _bank(features: AudioFeatures) -> torch.Tensor:
    return mel_filterbank(features.n_fft // 2 + 1, features.n_mels, features.f_min, features.f_max,
                          features.sample_rate, features.mel_scale)


@lru_cache(maxsize=8)
def _window(features: AudioFeatures) -> torch.Tensor:
    make = torch.hann_window if features.window == "hann" else torch.hamming_window
    return make(features.win_length, periodic=True)


def log_mel(samples: torch.Tensor, features: AudioFeatures) -> torch.Tensor:
    """(n_mels, frames) natural-log mel power of a mono waveform at `features.sample_rate`; frames are centred
    on samples 0, hop, 2 hop, ... with zeros beyond the clip's ends (a clip of any length has them)."""
    spec = torch.stft(samples.to(torch.float32), features.n_fft, features.hop_length, features.win_length,
                      _window(features), center=True, pad_mode="constant", return_complex=True)
    power = spec.real ** 2 + spec.imag ** 2  # (freqs, frames)
    return torch.log((_bank(features).T @ power).clamp(min=features.log_floor))


def normalise(features: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance over the whole utterance (its level and channel gain removed); a constant
    (silent) one becomes zeros instead of a division by zero."""
    return (features - features.mean()) / features.std(correction=0).clamp(min=NORM_FLOOR)
