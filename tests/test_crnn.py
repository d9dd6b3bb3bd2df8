"""The ResNet-CRNN: a spec that round-trips, the image models' own channel gate in its blocks, forward and
backward on clips of different lengths, `reslab info` in frames, and ONNX export with a dynamic time axis."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from audio_tones import one_thread  # noqa: F401 (autouse)
from reslab import create_model
from reslab.layers.attention import ConvolutionalBlockAttention
from reslab.models import CRNN
from reslab.spec import CRNNSpec, SpecError, from_dict

TINY = dict(stem_channels=4, stage_channels=(4, 8), depths=(1, 1), freq_strides=(2, 2), time_strides=(1, 2),
            rnn_hidden=8, num_classes=3)


def test_spec_round_trips_through_json_and_names_bad_fields():
    spec = CRNNSpec(**TINY, rnn="gru")
    assert from_dict(json.loads(spec.to_json())) == spec
    with pytest.raises(SpecError, match="freq_strides"):
        CRNNSpec(depths=(1, 1))  # one value per stage for every per-stage field
    with pytest.raises(SpecError, match="rnn_dropout"):
        CRNNSpec(rnn_dropout=0.2)  # between layers: needs two


def test_blocks_gate_channels_with_the_module_the_image_resnets_use():
    crnn = create_model("resnet_crnn")
    image = create_model("resnet20_cifar", attention="cbam")
    crnn_gates = [m for m in crnn.modules() if isinstance(m, ConvolutionalBlockAttention)]
    image_gates = [m for m in image.modules() if isinstance(m, ConvolutionalBlockAttention)]
    assert len(crnn_gates) == sum(crnn.spec.depths) and image_gates
    assert {type(m) for m in crnn_gates} == {type(m) for m in image_gates}


def test_forward_and_backward_on_clips_of_different_lengths():
    model = CRNN(CRNNSpec(**TINY))
    for frames in (7, 33, 101):
        x = torch.randn(2, 1, 32, frames, requires_grad=True)
        logits = model(x)
        assert logits.shape == (2, 3)
        logits.sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in model.parameters())


def test_head_averages_the_recurrent_outputs_over_time():
    model = CRNN(CRNNSpec(**TINY)).eval()
    x = torch.randn(1, 1, 32, 20)
    conv = model.forward_features(x)
    frames, _ = model.rnn(conv.flatten(1, 2).transpose(1, 2))  # each frame: every channel of every mel row
    torch.testing.assert_close(model(x), model.fc(frames.mean(1)))
    assert model.forward_head(conv, pre_logits=True).shape == (1, model.num_features)


def test_preset_states_its_size_and_cost_per_second_of_audio():
    from reslab.bench.audio_cost import macs_per_second, recurrent_macs, stage_shapes_in_frames
    from reslab.registry import get_preset

    preset = get_preset("resnet_crnn")
    model = create_model("resnet_crnn")
    features = preset.preprocessing.audio
    shapes = dict(stage_shapes_in_frames(model, features))
    assert shapes["stem"] == (16, 32, 63) and shapes["stage3"] == (64, 4, 32)  # strides (2,1), (2,2), (2,1)
    # the LSTM, by hand: 32 frames x 2 directions x 4 gates x (64 x 4 inputs + 64 hidden) x 64 hidden
    assert recurrent_macs(model, 32) == 32 * 2 * 4 * (256 + 64) * 64
    assert 0.021e9 < macs_per_second(model, features) < 0.022e9  # as the preset's comment states
    assert 0.24e6 < sum(p.numel() for p in model.parameters()) < 0.25e6


def test_info_shows_stage_outputs_in_frames(capsys):
    from reslab.cli import main

    assert main(["info", "resnet_crnn"]) == 0
    out = capsys.readouterr().out
    assert "(C, mel bands, frames) for 1 s of audio" in out and "(64, 4, 32)" in out
    assert "GMACs per second of audio (63 frames of 32 mel bands at 8000 Hz)" in out


def test_onnx_export_keeps_the_time_axis_dynamic(tmp_path):
    import onnxruntime

    from reslab.deploy.export import export

    model = create_model("resnet_crnn", **TINY).eval()
    result = export(model, tmp_path / "crnn.onnx", "onnx", batch_size=1)  # as `reslab export` does
    assert result["max_abs_diff"] < 1e-3
    session = onnxruntime.InferenceSession(str(tmp_path / "crnn.onnx"), providers=["CPUExecutionProvider"])
    for frames in (31, 101):
        x = torch.randn(1, 1, 32, frames)
        got = session.run(None, {"images": x.numpy()})[0]
        with torch.no_grad():
            np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4)
