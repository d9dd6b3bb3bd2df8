"""DenseNet is its own family (Huang et al. 2017): a spec of its own that prints, diffs and round-trips, a builder
whose networks equal timm 1.0.29's and torchvision's (oracles), and the same tools (info, diff, weights) as ResNet."""
import csv
import math
import os
import re

import pytest
import torch

import reslab
from conftest import SHARED
from oracles import assert_round_trip, build_oracle
from reslab.cli import main
from reslab.complexity import cached_complexity, spec_complexity
from reslab.models.densenet import DenseNet, DenseNetSpec
from reslab.presets.densenet import REGISTERED

IMAGENET_DENSENETS = ["densenet121", "densenet161", "densenet169", "densenet201"]


@pytest.mark.parametrize("name", IMAGENET_DENSENETS)
@pytest.mark.parametrize("zoo", ["torchvision", "timm"])
def test_oracle_weights_load_and_give_equal_logits(name, zoo, tmp_path):
    assert isinstance(assert_round_trip(name, zoo, name, tmp_path), DenseNet)


def _reference_rows():
    with open(os.path.join(SHARED, "reference", "paper_table.csv"), newline="") as f:
        return {r["timm_name"]: r for r in csv.DictReader(f) if r["timm_name"] in IMAGENET_DENSENETS}


@pytest.mark.parametrize("name", IMAGENET_DENSENETS)
def test_size_and_cost_match_the_measured_reference(name):
    # paper_table.csv: timm's parameter count and measured GMACs at 224 (the paper only plots them)
    row = _reference_rows()[name]
    params, macs = cached_complexity(reslab.get_spec(name))
    assert params / 1e6 == pytest.approx(float(row["timm_params_M"]), abs=0.001)
    assert macs / 1e9 == pytest.approx(float(row["gmacs_measured_timm"]), abs=0.01)
    assert reslab.get_preset(name).top1_paper == pytest.approx(float(row["top1_paper"]))


def test_cifar_densenet_bc100_has_the_papers_0_8m_parameters():
    # Table 2 reports 0.8M to one decimal; the faithful 10-class network has 0.769M, which rounds to it
    preset = reslab.get_preset("densenet_bc100_k12_cifar")
    params, _ = cached_complexity(preset.spec)
    assert params == 769_162
    assert round(params / 1e6, 1) == preset.params_m_paper == 0.8


@pytest.mark.parametrize("depth, k, params_m_paper", [(250, 24, 15.3), (190, 40, 25.6)])
def test_larger_cifar_densenet_bc_match_table_2_within_2_percent(depth, k, params_m_paper):
    # the same builder at Table 2's bigger DenseNet-BC sizes, where the paper's rounding is finer than 2%
    n = (depth - 4) // 6
    spec = reslab.get_spec("densenet_bc100_k12_cifar").replace(growth_rate=k, block_config=(n, n, n),
                                                                stem_channels=2 * k)
    params, _ = spec_complexity(spec)
    assert params / 1e6 == pytest.approx(params_m_paper, rel=0.02)


@pytest.mark.parametrize("name, size", [("densenet121", 64), ("densenet_bc100_k12_cifar", 32)])
def test_forward_and_backward_give_finite_gradients_everywhere(name, size):
    model = reslab.create_model(name).train()
    x = torch.randn(2, 3, size, size)
    logits = model(x)
    assert logits.shape == (2, model.spec.num_classes)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]))
    loss.backward()
    assert math.isfinite(loss.item())
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_cifar_stem_is_one_unpooled_3x3_conv_of_2k_channels():
    model = reslab.create_model("densenet_bc100_k12_cifar").eval()
    stem = model.forward_stem(torch.zeros(1, 3, 32, 32))
    assert stem.shape == (1, 24, 32, 32)
    assert [n for n, _ in model.features.named_children()][:2] == ["conv0", "denseblock1"]
    assert len(model.stages) == 3


def test_each_stage_compresses_by_half_then_adds_k_channels_per_layer():
    spec = DenseNetSpec(growth_rate=8, block_config=(2, 3), stem_channels=16, input_size=64)
    # stage 1: 16 + 2*8 = 32; stage 2: the transition halves to 16 channels and the map, then 16 + 3*8 = 40
    assert spec.stage_channels == (32, 40)
    shapes = reslab.model_info(reslab.build(spec))["stages"]
    assert shapes == [("stem", (16, 16, 16)), ("stage1", (32, 16, 16)), ("stage2", (40, 8, 8))]


def test_stage_outputs_sit_at_timms_feature_reductions():
    # timm 1.0.29 densenet121 feature_info: 256, 512, 1024, 1024 channels at reductions 4, 8, 16, 32
    import timm

    theirs = timm.create_model("densenet121", features_only=True, out_indices=(1, 2, 3, 4)).feature_info
    spec = reslab.get_spec("densenet121")
    shapes = reslab.model_info("densenet121")["stages"][1:]
    assert [c for _, (c, _, _) in shapes] == list(spec.stage_channels) == theirs.channels()
    assert [spec.input_size // h for _, (_, h, _) in shapes] == theirs.reduction()


def test_spec_round_trips_through_json_and_checkpoints(tmp_path):
    spec = reslab.get_spec("densenet_bc100_k12_cifar").replace(layer_drop_rate=0.2)
    assert reslab.from_dict(spec.to_dict()) == spec
    assert '"family": "densenet"' in spec.to_json()

    model = reslab.create_model(spec).eval()
    path = reslab.save_weights(model, tmp_path / "dense.safetensors")
    loaded = reslab.weights.load_model(path).eval()
    assert loaded.spec == spec
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize("changes, message", [
    ({"compression": 0.0}, "compression must be in (0, 1]"),
    ({"stem": "deep"}, "stem='deep' is not one of"),
    ({"block_config": ()}, "block_config is empty"),
    ({"block_config": (6, 0)}, "block_config must be positive"),
    ({"growth_rate": 0}, "growth_rate must be a positive integer"),
    ({"layer_drop_rate": 1.0}, "layer_drop_rate must be in [0, 1)"),
    ({"input_size": 16}, "input_size=16 is too small"),
    ({"depths": (3, 4)}, "unknown densenet spec field(s) ['depths']"),
])
def test_invalid_specs_are_refused_naming_the_field(changes, message):
    with pytest.raises(reslab.SpecError) as e:
        reslab.get_spec("densenet121").replace(**changes)
    assert message in str(e.value)


def test_smallest_allowed_input_runs():
    spec = reslab.get_spec("densenet121")
    model = reslab.create_model("densenet121", input_size=spec.min_input_size).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, spec.min_input_size, spec.min_input_size)).shape == (1, 1000)
    with pytest.raises(reslab.SpecError):
        spec.replace(input_size=spec.min_input_size - 1)


def test_model_info_reports_params_and_stage_shapes():
    info = reslab.model_info("densenet121")
    assert info["params"] == 7_978_856
    assert info["stages"][-1] == ("stage4", (1024, 7, 7))


def test_cli_info_shows_spec_and_stage_outputs(capsys):
    assert main(["info", "densenet121", "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n  growth_rate +32\n", out) and re.search(r"\n  family +densenet\n", out)
    assert "stage1   (256, 16, 16)" in out and "stage4   (1024, 2, 2)" in out
    assert "same model in: timm densenet121, torchvision densenet121" in out


def test_cli_info_accepts_densenet_overrides_and_refuses_bad_ones(capsys):
    assert main(["info", "densenet_bc100_k12_cifar", "--growth-rate", "24", "--block-config", "2,2,2"]) == 0
    assert "stage3   (" in capsys.readouterr().out
    assert main(["info", "densenet121", "--compression", "1.5"]) == 2
    assert "error: compression must be in (0, 1]" in capsys.readouterr().err


def test_cli_diff_shows_only_the_block_config(capsys):
    assert main(["diff", "densenet121", "densenet169"]) == 0
    out = capsys.readouterr().out
    rows = [l.split()[0] for l in out.splitlines()[2:] if l.strip() and not l.startswith(("parameters", "GMACs"))]
    assert rows == ["block_config"]
    assert "7.979 M -> 14.149 M" in out


def test_cli_models_lists_the_family(capsys):
    assert main(["models", "densenet*"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in REGISTERED)
    assert "DenseNet (CIFAR)" in out


def test_oracle_weights_load_under_a_new_head_with_a_warning(tmp_path):
    oracle = build_oracle("torchvision", "densenet121")
    torch.save(oracle.state_dict(), tmp_path / "tv.pth")
    with pytest.warns(UserWarning, match="classifier.weight"):
        model = reslab.create_model("densenet121", num_classes=10, weights=str(tmp_path / "tv.pth"))
    assert model.classifier.out_features == 10
    assert torch.equal(model.features.conv0.weight, oracle.features.conv0.weight)


def test_layer_dropout_acts_only_in_training():
    spec = DenseNetSpec(growth_rate=4, block_config=(2, 2), stem="cifar", stem_channels=8, layer_drop_rate=0.5,
                        num_classes=3, input_size=8)
    model = reslab.build(spec)
    x = torch.randn(2, 3, 8, 8)
    assert not torch.equal(model.train()(x), model(x))
    with torch.no_grad():
        assert torch.equal(model.eval()(x), model(x))


def _train_step_saving(model, x):
    """Logits of one training forward and the bytes autograd kept for backward (outside checkpointed parts)."""
    saved = 0

    def pack(t):
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = model(x)
    logits.square().sum().backward()
    return logits, saved


def test_memory_efficient_keeps_less_for_backward_and_computes_the_same():
    spec = DenseNetSpec(growth_rate=4, block_config=(6, 6), stem="cifar", stem_channels=8, num_classes=3,
                        input_size=16)
    plain, lean = reslab.build(spec), reslab.build(spec.replace(memory_efficient=True))
    lean.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 16, 16)
    plain_logits, plain_bytes = _train_step_saving(plain.train(), x)
    lean_logits, lean_bytes = _train_step_saving(lean.train(), x)
    assert lean_bytes < 0.8 * plain_bytes
    assert torch.allclose(lean_logits, plain_logits, atol=1e-6)
    for (name, p), q in zip(plain.named_parameters(), lean.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name
    # the recompute in backward must not update BatchNorm's running statistics a second time
    lean_state = lean.state_dict()
    for key, value in plain.state_dict().items():
        assert torch.allclose(value.float(), lean_state[key].float(), atol=1e-6), key
