"""A model is data: specs validate, print, diff and round-trip; presets are specs."""
import json

import pytest
import torch

import reslab
from reslab.spec import ResNetSpec, SpecError, from_dict, spec_diff


@pytest.mark.parametrize("name", ["seresnext50_32x4d", "tresnet_m"])
def test_spec_round_trips_through_json(name):
    spec = reslab.get_spec(name).replace(drop_path_rate=0.1)
    assert from_dict(json.loads(spec.to_json())) == spec


def test_specs_saved_before_attention_base_existed_still_load():
    spec = reslab.get_spec("regnety_016")
    old = {k: v for k, v in spec.to_dict().items() if k != "attention_base"}
    assert from_dict(old) == spec


def test_per_stage_fields_read_one_value_per_stage():
    spec = reslab.get_spec("tresnet_m")
    assert spec.stage_values("block") == ("basic", "basic", "bottleneck", "bottleneck")
    assert spec.stage_channels == (64, 128, 1024, 2048)
    assert reslab.get_spec("resnet50").stage_values("attention") == ("none",) * 4


def test_resnet50d_is_resnet50_plus_stem_and_shortcut():
    diff = spec_diff(reslab.get_spec("resnet50"), reslab.get_spec("resnet50d"))
    assert [field for field, _, _ in diff] == ["stem", "shortcut"]


def test_resnet50a_differs_from_resnet50_only_in_stride_placement():
    diff = spec_diff(reslab.get_spec("resnet50"), reslab.get_spec("resnet50a"))
    assert diff == [("stride_on", "3x3", "1x1")]


@pytest.mark.parametrize("changes, field", [
    ({"depths": (3, 4)}, "widths"),
    ({"widths": (64, -128, 256, 512)}, "widths"),
    ({"block": "triple"}, "block"),
    ({"drop_path_rate": 1.5}, "drop_path_rate"),
    ({"block": "basic", "expansion": 1, "groups": 32}, "groups"),
    ({"block": "basic", "expansion": 1, "stride_on": "1x1"}, "stride_on"),
    ({"conv3x3": "separable", "groups": 32, "base_width": 4}, "groups"),
    ({"block": ("basic", "bottleneck")}, "block has 2 entries"),
    ({"attention": ("se", "none", "eca", "gc")}, "attention='gc'"),
    ({"expansion": (1, 1, 4, 0)}, "expansion"),
    ({"block": ("basic", "basic", "bottleneck", "bottleneck"), "conv3x3": "res2"}, "stage 1 is basic"),
    ({"attention": ("se", "se", "none", "none"), "attention_position": "3x3",
      "block": ("basic", "basic", "bottleneck", "bottleneck")}, "attention_position"),
    ({"attention_min_channels": 0}, "attention_min_channels"),
])
def test_invalid_spec_names_the_field(changes, field):
    with pytest.raises(SpecError, match=field):
        reslab.get_spec("resnet50").replace(**changes)


def test_unknown_field_is_refused_with_the_valid_ones():
    with pytest.raises(SpecError, match="unknown resnet spec field"):
        reslab.get_spec("resnet50").replace(widht=3)


def test_zeropad_shortcut_cannot_shrink_channels():
    with pytest.raises(SpecError, match="zeropad"):
        reslab.get_spec("resnet20_cifar").replace(widths=(16, 8, 64))


def test_zeropad_shortcut_adds_no_parameters():
    a = reslab.create_model("resnet20_cifar")
    b = reslab.create_model("resnet20_cifar", shortcut="projection")
    assert sum(p.numel() for p in a.parameters()) < sum(p.numel() for p in b.parameters())
    assert a(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_cifar_presets_default_to_ten_classes_and_32px():
    spec = reslab.get_spec("resnet56_cifar")
    assert (spec.num_classes, spec.input_size) == (10, 32)


def test_drop_path_rises_linearly_to_the_spec_rate():
    model = reslab.create_model("resnet18", drop_path_rate=0.2)
    rates = [b.drop_path.rate for s in model.stages for b in s]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.2)
    assert rates == sorted(rates)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "preactresnet18", "wrn40_4_cifar"])
def test_zero_init_last_makes_every_block_start_as_identity(name):
    n = reslab.get_spec(name).num_stages
    model = reslab.create_model(name, zero_init_last=True, widths=(8,) * n, depths=(2,) * n).eval()
    for stage in model.stages:
        block = stage[1]  # stride 1, same width: an identity shortcut
        channels = block.conv1.in_channels if not hasattr(block, "conv3") else block.conv3.out_channels
        x = torch.randn(1, channels, 8, 8)
        with torch.no_grad():
            assert torch.allclose(block(x), x if block.preact else torch.relu(x))


def test_resnet50a_puts_the_stride_on_the_first_1x1():
    block = reslab.create_model("resnet50a").layer2[0]
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    block = reslab.create_model("resnet50").layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)


def test_separable_block_uses_depthwise_convolutions():
    conv = reslab.create_model("sepresnet18").layer1[0].conv1
    assert conv.depthwise.groups == conv.depthwise.in_channels


def test_spec_is_frozen():
    with pytest.raises(Exception):
        ResNetSpec().depths = (1, 1, 1, 1)
