"""Band-limited resampling by a rational factor: a windowed-sinc low-pass evaluated at each output phase, run as
one strided convolution (polyphase). Written with torch since torchaudio pins an older torch."""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

ZERO_CROSSINGS = 16  # of the sinc on each side: the filter's length, so how sharp its cut-off
ROLLOFF = 0.94  # cut-off as a fraction of the lower Nyquist frequency, leaving room for the transition band


def resample(samples: torch.Tensor, rate: int, new_rate: int) -> torch.Tensor:
    """`samples` (..., n) at `rate` Hz as ceil(n * new_rate / rate) samples at `new_rate` Hz."""
    if rate == new_rate or samples.shape[-1] == 0:
        return samples if rate == new_rate else samples[..., :0]
    g = math.gcd(rate, new_rate)
    up, down = new_rate // g, rate // g
    kernels, reach = _phase_kernels(up, down)
    n = samples.shape[-1]
    x = samples.reshape(-1, 1, n).to(torch.float32)
    x = F.pad(x, (reach, reach + down))
    # output k * up + i sits at input position (k * up + i) * down / up = k * down + i * down / up
    y = F.conv1d(x, kernels, stride=down)  # (batch, up phases, positions)
    out = y.transpose(1, 2).reshape(x.shape[0], -1)[:, :math.ceil(n * up / down)]
    return out.reshape(*samples.shape[:-1], -1).to(samples.dtype)


@lru_cache(maxsize=16)
def _phase_kernels(up: int, down: int) -> tuple[torch.Tensor, int]:
    """(up, 1, taps) filters, one per output phase, and how far (in input samples) each reaches back."""
    cutoff = min(1.0, up / down) * ROLLOFF  # in cycles per input sample, times 2 (1.0 = the input's Nyquist)
    reach = math.ceil(ZERO_CROSSINGS / cutoff)
    taps = torch.arange(-reach, reach + down + 1, dtype=torch.float64)
    phase = torch.arange(up, dtype=torch.float64)[:, None] * down / up
    t = taps[None, :] - phase  # distance of each input tap from the output sample, in input samples
    inside = t.abs() <= reach
    window = torch.where(inside, torch.cos(math.pi * t / (2 * reach)) ** 2, torch.zeros_like(t))  # Hann
    kernels = cutoff * torch.sinc(cutoff * t) * window
    return kernels.unsqueeze(1).to(torch.float32), reach
