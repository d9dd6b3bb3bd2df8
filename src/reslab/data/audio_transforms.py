"""A clip as a model input, (1, n_mels, clip_frames): resampled to the features' rate, cropped to the clip
length, log-mel, normalised, and placed in a fixed window of frames padded with zeros (the normalised mean).
Training draws a crop, noise, a shift in the window and SpecAugment masks; evaluation takes the centre of a
long clip and puts the utterance at the window's start. Predict uses the evaluation transform: the same input."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..spec.audio import AudioFeatures
from .audio_augment import AudioAugment, noisy, spec_augment
from .audio_io import Clip
from .errors import DataError
from .audio_mel import log_mel, normalise
from .audio_resample import resample


def cropped_samples(clip: Clip, features: AudioFeatures, *, train: bool = False) -> torch.Tensor:
    """The clip at the features' rate, at most clip_seconds of it (training: a random window, evaluation: the
    centre)."""
    samples = resample(clip.samples, clip.rate, features.sample_rate)
    extra = len(samples) - features.clip_samples
    if extra > 0:
        start = int(torch.randint(0, extra + 1, ()).item()) if train else extra // 2
        samples = samples[start:start + features.clip_samples]
    return samples


def fixed_window(features: torch.Tensor, frames: int, offset: int = 0) -> torch.Tensor:
    """(n_mels, frames): the utterance at `offset`, zeros around it (crops whatever would stick out)."""
    features = features[:, :frames]
    return F.pad(features, (offset, frames - features.shape[1] - offset))


class ClipTransform:
    """Callable clip -> (1, n_mels, clip_frames) tensor; `augment` None for evaluation."""

    def __init__(self, features: AudioFeatures, augment: AudioAugment | None = None):
        self.features, self.augment = features, augment

    def __call__(self, clip: Clip) -> torch.Tensor:
        if not isinstance(clip, Clip):
            raise DataError(f"this model takes audio clips (log-mel features), got a {type(clip).__name__}: give it "
                            "a folder of <class>/<clip>.wav")
        train = self.augment is not None
        samples = cropped_samples(clip, self.features, train=train)
        if train:
            samples = noisy(samples, self.augment)
        mel = normalise(log_mel(samples, self.features))
        frames = self.features.clip_frames
        room = frames - mel.shape[1]  # frames of padding: training places the utterance anywhere in them
        offset = int(torch.randint(0, room + 1, ()).item()) if train and room > 0 else 0
        mel = fixed_window(mel, frames, offset)
        if train:
            mel = spec_augment(mel, self.augment)
        return mel.unsqueeze(0)


def train_clip_transform(features: AudioFeatures, augment: AudioAugment) -> ClipTransform:
    return ClipTransform(features, augment)


def eval_clip_transform(features: AudioFeatures) -> ClipTransform:
    return ClipTransform(features)
