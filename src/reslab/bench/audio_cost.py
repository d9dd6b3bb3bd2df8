"""What a model costs on clips: parameters, multiply-accumulates per second of audio and each stage's output in
(channels, mel bands, frames), for the audio models and for image models reading spectrograms alike."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..spec.audio import AudioFeatures
from .timing import time_in_turn


def second_of_features(features: AudioFeatures, in_chans: int = 1) -> torch.Tensor:
    """The model input of one second of audio: (1, in_chans, n_mels, frames)."""
    return torch.zeros(1, in_chans, features.n_mels, features.frames(features.sample_rate))


def recurrent_macs(model: nn.Module, frames_in: int) -> int:
    """MACs of the recurrent layers, which torch's flop counter does not see: per step and direction, four (LSTM)
    or three (GRU) gates of (input + hidden) x hidden. `frames_in`: the frames the first RNN layer receives."""
    total = 0
    for m in model.modules():
        if isinstance(m, (nn.LSTM, nn.GRU)):
            gates = 4 if isinstance(m, nn.LSTM) else 3
            directions = 2 if m.bidirectional else 1
            for layer in range(m.num_layers):
                width = m.input_size if layer == 0 else m.hidden_size * directions
                total += frames_in * directions * gates * (width + m.hidden_size) * m.hidden_size
    return total


@torch.no_grad()
def macs_per_second(model: nn.Module, features: AudioFeatures) -> int:
    was_training = model.training
    model.eval()
    x = second_of_features(features, model.spec.in_chans)
    with FlopCounterMode(display=False) as counter:
        conv = model.forward_features(x)
        model.forward_head(conv)
    model.train(was_training)
    return counter.get_total_flops() // 2 + recurrent_macs(model, conv.shape[-1])


@torch.no_grad()
def stage_shapes_in_frames(model: nn.Module, features: AudioFeatures) -> list[tuple[str, tuple[int, ...]]]:
    """(name, (C, mel bands, frames)) of the stem and each stage for one second of audio."""
    from ..models.features import FeatureExtractor

    was_training = model.training
    extractor = FeatureExtractor(model.eval(), tuple(range(len(model.feature_info))))
    maps = extractor(second_of_features(features, model.spec.in_chans))
    model.train(was_training)
    return [(info["name"], tuple(m.shape[1:])) for info, m in zip(model.feature_info, maps)]


@torch.no_grad()
def clips_per_second(model: nn.Module, features: AudioFeatures, batch_size: int = 16, repeats: int = 5) -> float:
    """Inference throughput on one-second clips' features (median of `repeats` timed batches)."""
    was_training = model.training
    x = second_of_features(features, model.spec.in_chans).expand(batch_size, -1, -1, -1).contiguous()
    model.eval()
    (times,) = time_in_turn([lambda: model(x)], repeats, "cpu")
    model.train(was_training)
    return batch_size / (sorted(times)[len(times) // 2] / 1000)
