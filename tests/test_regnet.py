"""RegNet: the generator reproduces the paper's models (parameter counts from the reference table), timm's
regnetx/regnety (pycls rounding) and torchvision's regnet_x/regnet_y (torchvision rounding): weights load, logits
agree and export back for the small ones; larger ones match keys, shapes and parameter counts on the meta device."""
import pytest
import torch

import reslab
from oracles import assert_round_trip
from reslab.presets.regnet import PAPER, REGISTERED
from reslab.weights import detect_layout

FORWARD = {"regnetx_002": "timm", "regnety_004": "timm", "regnet_x_400mf": "torchvision",
           "regnet_y_800mf": "torchvision"}


@pytest.mark.parametrize("name, zoo", sorted(FORWARD.items()))
def test_oracle_weights_load_give_equal_logits_and_export_back(name, zoo, tmp_path):
    preset = reslab.get_preset(name)
    assert_round_trip(name, zoo, preset.timm if zoo == "timm" else preset.torchvision, tmp_path)


def _meta_oracle(preset):
    if preset.timm:
        import timm

        return timm.create_model(preset.timm, pretrained=False, device="meta")
    from torchvision.models import regnet as tv

    from reslab.presets.regnet import REGNET_Y_128GF, REGNETX, REGNETY, TORCHVISION

    # torchvision's own generator (on the CPU) fed the paper's values, its network on the meta device
    paper = TORCHVISION[preset.name]
    values = REGNET_Y_128GF if paper is None else (REGNETY if "_y_" in preset.name else REGNETX)[paper[-3:]]
    depth, w0, wa, wm, gw = values
    params = tv.BlockParams.from_init_params(depth=depth, w_0=w0, w_a=wa, w_m=wm, group_width=gw,
                                             se_ratio=0.25 if "_y_" in preset.name else None)
    with torch.device("meta"):
        return tv.RegNet(params)


@pytest.mark.parametrize("name", [n for n in REGISTERED if n not in FORWARD])
def test_preset_has_oracle_keys_shapes_and_parameter_count(name):
    preset = reslab.get_preset(name)
    oracle = _meta_oracle(preset)
    with torch.device("meta"):
        model = reslab.build(preset.spec)
    theirs = {k: tuple(v.shape) for k, v in oracle.state_dict().items()}
    layout = detect_layout(model, list(theirs))
    assert {layout.to_reslab(k): s for k, s in theirs.items()} == {k: tuple(v.shape) for k, v in
                                                                   model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_parameter_count_within_two_percent_of_paper(name):
    with torch.device("meta"):
        params = sum(p.numel() for p in reslab.build(reslab.get_spec(name)).parameters())
    paper = reslab.get_preset(name).params_m_paper
    assert abs(params / 1e6 - paper) / paper < 0.02


def test_generator_groups_equal_widths_into_stages_and_rounds_to_the_group_width():
    spec = reslab.regnet_spec(depth=13, w0=24, wa=36.44, wm=2.49, group_width=8)  # RegNetX-200MF
    assert spec.depths == (1, 1, 4, 7) and spec.widths == (24, 56, 152, 368)
    assert all(w % g == 0 for w, g in zip(spec.widths, spec.group_width))


def test_torchvision_rounding_gives_torchvision_widths_where_pycls_differs():
    args = dict(depth=22, w0=24, wa=24.48, wm=2.54, group_width=16)  # RegNetX-400MF
    assert reslab.regnet_spec(**args).widths != reslab.regnet_spec(**args, rounding="torchvision").widths


def test_user_drawn_regnet_builds_and_runs():
    spec = reslab.regnet_spec(depth=6, w0=16, wa=8.0, wm=2.0, group_width=8, se_ratio=0.25, num_classes=7)
    assert reslab.build(spec)(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_generator_refuses_a_width_multiplier_of_one():
    with pytest.raises(reslab.SpecError, match="wm"):
        reslab.regnet_spec(depth=6, w0=16, wa=8.0, wm=1.0, group_width=8)
