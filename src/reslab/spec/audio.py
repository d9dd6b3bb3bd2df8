"""How a clip becomes a model input: its log-mel features as plain data. Part of a model's preprocessing, so it
travels with the weights and training, eval and predict compute the very same features. No torch here."""
from __future__ import annotations

from dataclasses import dataclass

from .base import SpecError, check_choice, check_positive_ints

WINDOWS = ("hann", "hamming")
MEL_SCALES = ("htk", "slaney")  # htk: 2595 log10(1 + f/700), no area norm; slaney: linear below 1 kHz, area-normalised


@dataclass(frozen=True)
class AudioFeatures:
    """Log-mel spectrogram settings. Defaults suit 8 kHz speech (FSDD): 32 ms windows every 16 ms, 32 bands
    (half the frames and bands of the usual 25 ms / 10 ms / 40: every model on them costs half as much on CPU)."""

    sample_rate: int = 8000  # every clip is resampled to this rate first
    n_fft: int = 256
    win_length: int = 256  # 32 ms at 8 kHz (shorter windows are zero-padded to n_fft, centred)
    hop_length: int = 128  # 16 ms at 8 kHz: 62.5 frames per second
    window: str = "hann"
    n_mels: int = 32
    f_min: float = 20.0
    f_max: float = 4000.0  # at most sample_rate / 2
    mel_scale: str = "slaney"
    log_floor: float = 1e-6  # log(max(mel power, floor)): a silent band is finite
    # a clip longer than this is cropped (training: a random window, eval: the centre); a shorter one is padded
    # with zeros after normalisation, so a batch is one tensor of clip_frames frames
    clip_seconds: float = 1.0

    def __post_init__(self) -> None:
        check_positive_ints(self, ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"))
        check_choice("window", self.window, WINDOWS)
        check_choice("mel_scale", self.mel_scale, MEL_SCALES)
        if self.win_length > self.n_fft:
            raise SpecError(f"win_length={self.win_length} is longer than n_fft={self.n_fft}")
        if not 0 <= self.f_min < self.f_max <= self.sample_rate / 2:
            raise SpecError(f"need 0 <= f_min < f_max <= sample_rate / 2 = {self.sample_rate / 2:g} Hz, got "
                            f"f_min={self.f_min}, f_max={self.f_max}")
        if not self.log_floor > 0:
            raise SpecError(f"log_floor must be positive, got {self.log_floor}")
        if not self.clip_seconds > 0:
            raise SpecError(f"clip_seconds must be positive, got {self.clip_seconds}")

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * self.sample_rate)

    def frames(self, samples: int) -> int:
        """Frames of a clip of `samples` samples (centred frames: one every hop, the first at sample 0)."""
        return 1 + samples // self.hop_length

    @property
    def clip_frames(self) -> int:
        return self.frames(self.clip_samples)
