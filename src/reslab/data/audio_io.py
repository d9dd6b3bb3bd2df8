"""The one clip reader, shared by the audio folders and `reslab predict`: any file libsndfile decodes (WAV, FLAC,
OGG) becomes a mono float32 waveform at its own rate; what had to change on the way is reported, not hidden."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .images import UnreadableImageError, check_regular_file

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
NATIVE_SUBTYPES = ("PCM_16", "FLOAT")  # read without a change of sample format worth mentioning
SILENT_PEAK = 1e-4  # a clip whose every sample is below this (-80 dBFS; 16-bit audio's step is 3e-5) holds no sound
NO_SOUND = {"empty": "no samples", "silent": "no sample above -80 dBFS"}  # Clip.emptiness() -> why, in words


class UnreadableAudioError(UnreadableImageError):
    """A clip that is missing or that libsndfile cannot decode; an unreadable input like an unreadable image, so
    predict and the loaders treat both alike. The message names the file."""


class Clip(NamedTuple):
    samples: torch.Tensor  # (samples,) float32 in [-1, 1]
    rate: int  # samples per second
    conversions: tuple[str, ...] = ()  # e.g. ("stereo to mono", "PCM_24 to float")

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def emptiness(self) -> str | None:
        """Why this clip holds nothing to learn from or classify ("empty", "silent"), or None."""
        if len(self.samples) == 0:
            return "empty"
        return "silent" if float(self.samples.abs().max()) < SILENT_PEAK else None


def converted_line(changed: Counter) -> str:
    """What reading changed, said once for many clips: {change: clips} as one line."""
    return "converted as read: " + ", ".join(f"{n} clip(s) {what}" for what, n in changed.items())


def read_clip(path) -> Clip:
    """The clip at `path`, channels averaged to mono; UnreadableAudioError if it is not audio libsndfile reads."""
    import soundfile  # on the first clip only: image commands (predict imports this module) never load libsndfile

    path = Path(path)
    try:
        check_regular_file(path)  # a FIFO named a.wav would block its reader for ever
    except UnreadableImageError as e:
        raise UnreadableAudioError(str(e)) from None
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        subtype = soundfile.info(str(path)).subtype
    except FileNotFoundError:
        raise UnreadableAudioError(f"{path}: no such file") from None
    except (RuntimeError, ValueError) as e:  # libsndfile's errors are RuntimeErrors
        first = (str(e).strip().splitlines() or [""])[0]
        raise UnreadableAudioError(f"{path} is not an audio file libsndfile can read ({first})") from None
    conversions = []
    if data.shape[1] > 1:
        conversions.append(f"{data.shape[1]} channels to mono")
    if subtype not in NATIVE_SUBTYPES:
        conversions.append(f"{subtype} to float")
    return Clip(torch.from_numpy(np.ascontiguousarray(data.mean(1))), int(rate), tuple(conversions))
