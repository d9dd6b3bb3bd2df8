"""The walk of Liu et al. 2022 (Fig. 2) from ResNet-50 to ConvNeXt-T as presets: every step one small spec change,
step 00 the ResNet-50 preset's network, the last step ConvNeXt-T, each step's cost the paper's, and `reslab zoo
--roadmap convnext` putting it in a table and a plot."""
import math
import re

import pytest
import torch

import reslab
from oracles import assert_same_logits
from reslab.cli import main
from reslab.complexity import cached_complexity
from reslab.spec import spec_diff

STEPS = reslab.list_models("convnext_roadmap_*")


def test_steps_are_numbered_in_order_and_each_changes_at_most_three_fields():
    assert [int(re.match(r"convnext_roadmap_(\d\d)_", n).group(1)) for n in STEPS] == list(range(13))
    for before, after in zip(STEPS, STEPS[1:]):
        changed = spec_diff(reslab.get_spec(before), reslab.get_spec(after))
        assert 1 <= len(changed) <= 3, (after, changed)


def test_step_00_is_resnet50_in_parameters_and_macs():
    assert cached_complexity(reslab.get_spec(STEPS[0])) == cached_complexity(reslab.get_spec("resnet50"))


# ResNet-50's layers under their roadmap names: the block's convs in the order 1x1, 3x3, 1x1
RESNET_TO_ROADMAP = [(r"^conv1\.", "stem.0."), (r"^bn1\.", "stem.1."), (r"^fc\.", "fc."),
                     (r"^layer(\d)\.(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.blocks.{m.group(2)}."),
                     (r"\.conv1\.", ".fc1."), (r"\.bn1\.", ".norm1."), (r"\.conv2\.", ".conv_dw."),
                     (r"\.bn2\.", ".norm."), (r"\.conv3\.", ".fc2."), (r"\.bn3\.", ".norm2.")]


def test_step_00_computes_resnet50s_logits_with_its_weights():
    resnet = reslab.create_model("resnet50").eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a norm in the wrong place would show
        for m in resnet.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    state = {}
    for key, value in resnet.state_dict().items():
        for pattern, repl in RESNET_TO_ROADMAP:
            key = re.sub(pattern, repl, key)
        state[key] = value
    step = reslab.create_model(STEPS[0]).eval()
    step.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_same_logits(step(x), resnet(x))


def test_last_step_is_convnext_tiny():
    assert reslab.get_spec(STEPS[-1]) == reslab.get_spec("convnext_tiny")


@pytest.mark.parametrize("name", STEPS)
def test_counted_macs_are_the_papers_gflops_for_each_step(name):
    # Fig. 2 prints one decimal (its counter and ours may differ in the last digit: step 03 counts 2.35 here)
    preset = reslab.get_preset(name)
    _, macs = cached_complexity(preset.spec)
    assert abs(macs / 1e9 - preset.gmacs_paper) <= 0.06, (macs / 1e9, preset.gmacs_paper)


def test_every_step_trains_a_step_with_finite_gradients():
    for name in STEPS:  # each step at an eighth of its width and one block per stage
        spec = reslab.get_spec(name)
        model = reslab.create_model(name, depths=(1, 1, 1, 1), dims=tuple(d // 8 for d in spec.dims),
                                    stem_channels=spec.stem_channels // 8, num_classes=3).train()
        loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([0, 2]))
        loss.backward()
        assert math.isfinite(loss.item()), name
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters()), name


def test_zoo_roadmap_writes_the_table_and_the_plot(tmp_path, capsys):
    out, plot = tmp_path / "roadmap.md", tmp_path / "roadmap.png"
    assert main(["zoo", "--roadmap", "convnext", "--output", str(out), "--plot", str(plot)]) == 0
    text = out.read_text()
    assert len(re.findall(r"^\| +\d\d convnext_roadmap_", text, flags=re.M)) == 13
    assert "| block_norms, conv_bias " in text and " 78.8 |" in text and " 82.0 |" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert text.strip() in capsys.readouterr().out


def test_unknown_roadmap_is_refused_naming_the_known_ones(capsys):
    assert main(["zoo", "--roadmap", "regnet"]) == 2
    assert "no roadmap for 'regnet'; roadmaps: convnext" in capsys.readouterr().err
