"""Tiny audio datasets written in tests: pure tones of two pitches as 16-bit WAVs, a task with a known answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

TONES = {"high": 1500.0, "low": 300.0}  # class name -> frequency (Hz)
RATE = 8000


def tone(freq: float, seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = rng.uniform(0.2, 0.8) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    return (wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_tone_folder(root: Path, per_class: int = 6, seconds: float = 0.3) -> Path:
    """root/{train,val}/{high,low}/<n>.wav: each clip a tone of its class's pitch at a random level and phase."""
    for split, offset in (("train", 0), ("val", 1000)):
        for name, freq in TONES.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                seed = offset + i + int(freq)
                soundfile.write(folder / f"{i}.wav", tone(freq, seconds * (0.7 + 0.1 * (i % 4)), seed=seed), RATE,
                                subtype="PCM_16")
    return root


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Imported by the audio test modules. Tiny convolutions and LSTM steps are latency-bound: a second thread only
    adds synchronisation (measured: the tone run takes 9 s with one thread, 80 s with two on a busy 2-core box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
