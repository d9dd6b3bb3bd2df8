"""A model's cost comes from its family (`FamilyModel.cost_input_shape`, `count_macs`): `reslab models`, `reslab
info` and `reslab.model_info` count the same GMACs for every family, an audio model's on one second of audio."""
from __future__ import annotations

import re

import pytest
import torch

from families import FAMILY_NAMES, smallest_preset
from reslab import create_model, get_preset, model_info
from reslab.bench import complexity_at
from reslab.cli import main
from reslab.complexity import audio_frames, cached_complexity
from reslab.bench.audio_cost import macs_per_second, recurrent_macs
from reslab.errors import ReslabError
from reslab.models.cost import mac_counter


@pytest.mark.parametrize("name", [smallest_preset(family) for family in FAMILY_NAMES])
def test_models_and_info_count_the_same_macs(name):
    preset = get_preset(name)
    frames = audio_frames(preset.preprocessing)
    _, listed = cached_complexity(preset.spec, frames=frames)  # what `reslab models` lists
    _, shown = complexity_at(name, preset.spec, preset.spec.input_size, ReslabError, frames)  # what `info` shows
    assert listed == shown > 0
    assert model_info(name)["gmacs"] == listed / 1e9  # a built model counts as its spec does
    if frames is not None:  # an audio model: per second of audio, as compare reports it
        assert listed == macs_per_second(create_model(name), preset.preprocessing.audio)


def test_an_audio_models_cost_is_one_second_with_its_recurrent_layer():
    """torch's flop counter misses the CPU's fused LSTM: the count runs on the meta device, where it does not."""
    model = create_model("resnet_crnn").eval()
    shape = model.cost_input_shape()
    assert shape == (1, 1, 32, 63) and audio_frames(get_preset("resnet_crnn").preprocessing) == 63
    with torch.no_grad(), mac_counter() as convolutions:
        features = model.forward_features(torch.zeros(shape))
    by_hand = convolutions() + recurrent_macs(model, features.shape[-1]) + model.fc.in_features * model.fc.out_features
    assert model.count_macs(shape) == by_hand == macs_per_second(model, model.preprocessing.audio)  # as compare
    assert model.count_macs(shape) != model.count_macs((1, 1, 32, 32))  # the frames count


def test_the_zoo_table_and_info_print_one_cost_for_the_speech_crnn(capsys):
    """They said 0.01 (a 32 x 32 square, no LSTM) and 0.0216 (a second of audio) for the same model."""
    assert main(["models", "resnet_crnn"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    listed = float(row.split()[-2])  # ... params (M), GMACs, input
    assert main(["info", "resnet_crnn"]) == 0
    shown = float(re.search(r"GMACs per second of audio \(63 frames of 32 mel bands at 8000 Hz\): ([\d.]+)",
                            capsys.readouterr().out).group(1))
    assert shown == pytest.approx(0.0216, abs=1e-4) and listed == round(shown, 2)
