"""Every modern preset that timm ships is exactly timm's model (oracle: timm 1.0.29): its random weights load
through the public API, give the same logits and export back (one preset per block/stem/stride code path); the
rest have timm's keys, shapes and parameter count."""
import re

import pytest
import torch

import reslab
from oracles import assert_round_trip, assert_same_logits, randomize_norm_stats
from reslab.presets.modern import REGISTERED
from reslab.weights import detect_layout

# one preset per distinct code path runs the full forward comparison; the others share that path and are
# checked structurally (same keys, shapes and parameter count, built on the meta device) to fit the time budget
FORWARD = ["resnest14d", "resnest50d_4s2x40d", "resnest50d_1s4x24d", "res2net50_48w_2s", "res2next50", "res2net50d",
           "skresnet18", "skresnext50_32x4d", "resnetaa50d", "resnetblur50", "resnetrs50", "tresnet_m", "tresnet_v2_l"]


def _with_oracle(names):
    return [n for n in names if reslab.get_preset(n).timm]


@pytest.mark.parametrize("name", FORWARD)
def test_timm_weights_load_give_equal_logits_and_export_back(name, tmp_path):
    assert_round_trip(name, "timm", reslab.get_preset(name).timm, tmp_path)


@pytest.mark.parametrize("name", [n for n in _with_oracle(REGISTERED) if n not in FORWARD])
def test_preset_has_timm_keys_shapes_and_parameter_count_without_forward(name):
    import timm

    with torch.device("meta"):
        oracle = timm.create_model(reslab.get_preset(name).timm, pretrained=False)
        model = reslab.build(reslab.get_spec(name))
    theirs = {k: tuple(v.shape) for k, v in oracle.state_dict().items()}
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    layout = detect_layout(model, list(theirs))
    renamed = {layout.to_reslab(k) if layout else k: s for k, s in theirs.items()}
    assert renamed == ours
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in oracle.parameters())


def test_sknet50_matches_paper_parameter_count():
    # SKNet-50 = SK-ResNeXt-50 32x4d: 27.5M parameters in Li et al. 2019, Table 2
    params = sum(p.numel() for p in reslab.build(reslab.get_spec("skresnext50_32x4d")).parameters())
    assert abs(params / 1e6 - 27.5) / 27.5 < 0.02


def test_resnest_differs_from_resnet_d_only_in_split_attention_and_pooled_stride():
    diff = {field for field, _, _ in reslab.spec_diff(reslab.get_spec("resnet50d"), reslab.get_spec("resnest50d"))}
    assert diff == {"conv3x3", "stride_on"}


def test_resnet_rs_evaluates_at_a_larger_resolution_than_it_trains():
    preset = reslab.get_preset("resnetrs50")
    assert (preset.spec.input_size, preset.preprocessing.input_size) == (160, 224)


@pytest.mark.parametrize("output_stride, expected", [(32, 2), (16, 4), (8, 8)])
def test_output_stride_trades_late_strides_for_dilation(output_stride, expected):
    spec = reslab.get_spec("resnest14d").replace(output_stride=output_stride)
    model = reslab.build(spec).eval()
    with torch.no_grad():
        features = model.forward_features(torch.randn(1, 3, 64, 64))
    assert features.shape[-1] == expected


@pytest.mark.parametrize("name, output_stride", [("resnet50", 8), ("resnet50d", 16), ("resnest14d", 8)])
def test_output_stride_matches_timm_dilated_resnet(name, output_stride):
    import timm

    oracle = timm.create_model(name, pretrained=False, output_stride=output_stride).eval()
    randomize_norm_stats(oracle)
    model = reslab.build(reslab.get_spec(name).replace(output_stride=output_stride)).eval()
    reslab.load_weights(model, oracle.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_same_logits(model(x), oracle(x))


def test_cli_lists_describes_and_diffs_the_modern_presets(capsys):
    from reslab.cli import main

    assert main(["models", "resnest*"]) == 0
    out = capsys.readouterr().out
    assert "resnest50d" in out and "ResNeSt" in out
    assert main(["info", "res2net50_26w_4s", "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n  conv3x3 +res2\n", out) and re.search(r"\n  scale +4\n", out)
    assert main(["diff", "resnet50d", "resnest50d"]) == 0
    out = capsys.readouterr().out
    changed = [l.split()[0] for l in out.splitlines()[2:] if l.strip() and not l.startswith(("parameters", "GMACs"))]
    assert changed == ["stride_on", "conv3x3"]
    assert main(["info", "regnety_016", "--group-width", "24,24,24,24,24"]) == 2
    assert "group_width has 5 entries" in capsys.readouterr().err


def test_every_modern_and_regnet_spec_round_trips_through_json():
    import json

    from reslab.presets.regnet import REGISTERED as REGNETS

    for name in REGISTERED + REGNETS:
        spec = reslab.get_spec(name)
        assert reslab.from_dict(json.loads(spec.to_json())) == spec, name


def test_space_to_depth_moves_each_pixel_of_a_block_into_its_own_channel_group():
    from reslab.layers import SpaceToDepth

    x = torch.randn(2, 3, 8, 12)
    y = SpaceToDepth(4)(x)
    assert y.shape == (2, 48, 2, 3)
    for i, j, c in [(0, 0, 0), (1, 2, 1), (3, 3, 2)]:  # channel (i*4 + j)*C + c holds pixel (i, j) of each block
        assert torch.equal(y[:, (i * 4 + j) * 3 + c], x[:, c, i::4, j::4])


def test_tresnet_mixes_basic_and_bottleneck_stages_with_se_only_where_the_paper_puts_it():
    model = reslab.create_model("tresnet_m")
    kinds = [type(stage[0]).__name__ for stage in model.stages]
    assert kinds == ["BasicBlock", "BasicBlock", "Bottleneck", "Bottleneck"]
    assert [type(stage[0].se).__name__ for stage in model.stages] == ["SqueezeExcite"] * 3 + ["Identity"]
    # SE sits after the 3x3 of a bottleneck, 1/8 of the block output wide but never below 64
    assert model.layer3[0].se.fc1.weight.shape[:2] == (1024 // 8, 256)
    assert model.layer1[0].se.fc1.weight.shape[:2] == (64, 64)
    assert reslab.get_preset("tresnet_m").preprocessing.std == (1.0, 1.0, 1.0)
