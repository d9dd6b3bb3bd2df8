"""Weights of another preset: the error names the preset whose shapes the checkpoint fits; and `reslab info` says
where an option-A shortcut puts its zeros."""
import pytest
import torch

import reslab
from families import FAMILY_NAMES, smallest_preset
from reslab.cli import main
from reslab.models import FAMILIES
from reslab.weights import WeightsError, load_weights
from reslab.weights import fitting


def load_error(model_name: str, state: dict, tmp_path, **overrides) -> str:
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as err:
        reslab.create_model(model_name, weights=path, **overrides)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"checkpoint {path} does not fit {model_name}: ")
    return message


def test_resnet50_weights_into_resnet34_name_resnet50(tmp_path):
    state = reslab.create_model("resnet50").state_dict()
    before = dict(fitting._PRESET_SHAPES)
    message = load_error("resnet34", state, tmp_path)
    assert message.endswith("; these weights fit preset resnet50 (try --model resnet50 / "
                            "create_model('resnet50', ...))")
    # nearest spec first: resnet50 is found without building the other candidates
    assert len(set(fitting._PRESET_SHAPES) - set(before)) <= 1


def test_resnet20_cifar_weights_into_resnet56_cifar_name_resnet20_cifar(tmp_path):
    """plain20_cifar has the same shapes; resnet20_cifar is nearer to what was asked for (one field, not two)."""
    message = load_error("resnet56_cifar", reslab.create_model("resnet20_cifar").state_dict(), tmp_path)
    assert "these weights fit preset resnet20_cifar (try --model resnet20_cifar" in message
    assert "plain20_cifar" not in message


def test_another_classifier_size_still_names_the_preset(tmp_path):
    state = reslab.create_model("resnet50", num_classes=7).state_dict()
    assert "fit preset resnet50 (" in load_error("resnet34", state, tmp_path, num_classes=10)


def test_junk_tensors_name_no_preset(tmp_path):
    junk = {"junk.weight": torch.randn(3, 4), "layer1.0.conv1.weight": torch.randn(2, 2, 3, 3),
            "fc.bias": torch.randn(5)}
    message = load_error("resnet34", junk, tmp_path)
    assert "fit preset" not in message and "unexpected keys junk.weight" in message


def test_a_checkpoint_of_no_preset_names_none(tmp_path):
    state = reslab.create_model("resnet50", widths=(64, 128, 256, 384)).state_dict()
    assert "fit preset" not in load_error("resnet34", state, tmp_path)


def test_only_the_classifier_differing_names_no_preset(tmp_path):
    model = reslab.create_model("resnet18", num_classes=10)
    with pytest.raises(WeightsError) as err:
        load_weights(model, reslab.create_model("resnet18").state_dict())
    assert "fc.weight" in str(err.value) and "fit preset" not in str(err.value)


def test_the_models_own_preset_without_its_overrides(tmp_path):
    message = load_error("resnet50", reslab.create_model("resnet50").state_dict(), tmp_path, attention="se")
    assert message.endswith("; these weights fit preset resnet50 as registered: drop the override of attention")


def test_other_layouts_are_renamed_before_matching_and_preferred(tmp_path):
    """A legacy-SENet (timm layout) checkpoint into resnet50: renamed to ResLab's keys, then matched; seresnet50 has
    the same shapes and is nearer resnet50, but only legacy_seresnet50 (ceil-mode stem pool) is in that layout."""
    path = reslab.save_weights(reslab.create_model("legacy_seresnet50"), tmp_path / "legacy.pth", layout="timm")
    assert "layer0.conv1.weight" in torch.load(path, weights_only=True)
    with pytest.raises(WeightsError) as err:
        reslab.create_model("resnet50", weights=path)
    assert str(err.value).endswith("these weights fit preset legacy_seresnet50 (try --model legacy_seresnet50 / "
                                   "create_model('legacy_seresnet50', ...))")


# --- every family says how its presets show in a state dict (FamilyModel.checkpoints) ----------------------------
@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_family_reads_its_blocks_per_stage_off_the_keys(family):
    rules = FAMILIES[family].checkpoints
    model = reslab.create_model(smallest_preset(family))
    state = model.state_dict()
    assert fitting._stage_depths(list(state), rules.block_key) == tuple(getattr(model.spec, rules.depths_field))
    assert rules.could_fit(model.spec, state)
    assert fitting.fitting_preset(model, state) == model.preset


def test_densenet_weights_of_another_depth(tmp_path):
    message = load_error("densenet121", reslab.create_model("densenet169").state_dict(), tmp_path)
    assert "these weights fit preset densenet169 (" in message


def test_convnext_weights_of_another_width(tmp_path):
    """atto and femto have the same blocks per stage; the classifier's input (320, not 384) and then the shapes
    tell them apart, and ConvNeXt-V2 atto's GRN weights rule it out."""
    message = load_error("convnext_femto", reslab.create_model("convnext_atto").state_dict(), tmp_path)
    assert message.endswith("; these weights fit preset convnext_atto (try --model convnext_atto / "
                            "create_model('convnext_atto', ...))")


def test_crnn_weights_name_their_preset_without_the_overrides(tmp_path):
    message = load_error("resnet_crnn", reslab.create_model("resnet_crnn").state_dict(), tmp_path, rnn_hidden=32)
    assert message.endswith("; these weights fit preset resnet_crnn as registered: drop the override of rnn_hidden")


# --- reslab info: where option A puts its zeros --------------------------------------------------------------
def test_info_says_where_option_a_puts_its_zeros(capsys):
    assert main(["info", "resnet20_cifar"]) == 0
    assert "option-A shortcut: zeros after the identity channels (zeropad_side=end)" in capsys.readouterr().out
    assert main(["info", "resnet20_cifar", "--zeropad_side", "both"]) == 0
    assert ("option-A shortcut: zeros split around the identity channels, half before (rounded down), the rest "
            "after (zeropad_side=both)") in capsys.readouterr().out


@pytest.mark.parametrize("name", ["resnet18", "plain20_cifar"])  # projection shortcuts; no shortcut at all
def test_info_says_nothing_of_zeros_without_option_a(capsys, name):
    assert main(["info", name]) == 0
    assert "option-A" not in capsys.readouterr().out
