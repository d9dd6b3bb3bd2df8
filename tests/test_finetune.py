"""Fine-tuning helpers: freezing by part name, frozen norms, layer-wise LR decay, attention inserted as identity."""
import pytest
import torch

import reslab
from reslab.models.finetune import (FinetuneError, FrozenBatchNorm2d, freeze, freeze_bn, insert_attention,
                             layer_decay_param_groups, part_names, parameter_parts)

TINY = {"widths": (8, 16, 32, 64)}


def tiny(name="resnet18", **kw):
    return reslab.create_model(name, num_classes=5, **{**TINY, **kw})


def train_step(model, x):
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(x).square().mean().backward()
    opt.step()


def test_freeze_up_to_stage2_freezes_stem_stage1_stage2_weights_and_norm_statistics():
    model = tiny()
    assert freeze(model, up_to="stage2") == ["stem", "stage1", "stage2"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_step(model, torch.randn(4, 3, 32, 32))
    after = model.state_dict()
    for k in before:
        changed = not torch.equal(before[k], after[k])
        frozen = k.startswith(("conv1.", "bn1.", "layer1.", "layer2."))
        if k.endswith(("weight", "running_mean")) and "downsample" not in k:
            assert changed != frozen, k


def test_freeze_by_names_and_the_densenet_family():
    model = reslab.create_model("densenet121", num_classes=3, block_config=(1, 1, 1, 1), growth_rate=8)
    assert freeze(model, names=["head", "stem"]) == ["stem", "head"]
    assert not model.classifier.weight.requires_grad and not model.features.conv0.weight.requires_grad
    assert all(p.requires_grad for p in model.features.denseblock1.parameters())
    assert isinstance(model.features.norm5, FrozenBatchNorm2d)


def test_unknown_freeze_name_lists_the_valid_ones():
    with pytest.raises(FinetuneError, match=r"stage7.*'stem', 'stage1', 'stage2', 'stage3', 'stage4', 'head'"):
        freeze(tiny(), names=["stem", "stage7"])


def test_freeze_bn_keeps_statistics_and_eval_behaviour_after_model_train():
    model = tiny().eval()
    x = torch.randn(4, 3, 32, 32)
    expected = model(x)
    freeze_bn(model)
    model.train()
    stats = model.bn1.running_mean.clone()
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert torch.equal(model.bn1.running_mean, stats)
    assert not model.bn1.weight.requires_grad
    assert set(model.state_dict()) == set(tiny().state_dict())  # checkpoints stay loadable by unfrozen models


def test_layer_decay_scales_shrink_from_head_to_stem_and_norms_get_no_weight_decay():
    model = tiny()
    groups = layer_decay_param_groups(model, weight_decay=0.05, layer_decay=0.5, head_lr_scale=10.0)
    scale = {g["name"]: g["lr_scale"] for g in groups}
    assert scale["head"] == 10.0 and scale["stage4"] == 0.5 and scale["stage1"] == 0.5 ** 4
    assert scale["stem"] == 0.5 ** 5
    for g in groups:
        assert all((p.ndim > 1) == (g["weight_decay"] == 0.05) for p in g["params"])
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # each parameter exactly once
    torch.optim.AdamW(groups, lr=1e-3)  # the groups are valid optimizer input


def test_layer_decay_leaves_frozen_parameters_out():
    model = tiny()
    freeze(model, up_to="stem")
    groups = layer_decay_param_groups(model, 0.0, 0.7)
    assert not any(g["name"].startswith("stem") for g in groups)


@pytest.mark.parametrize("name", ["resnet18", "resnet50d", "preactresnet18"])
@pytest.mark.parametrize("kind", ["se", "eca", "cbam"])
def test_inserted_attention_leaves_the_output_unchanged_and_the_spec_says_so(name, kind):
    model = tiny(name).eval()
    x = torch.randn(2, 3, 32, 32)
    expected = model(x)
    insert_attention(model, kind)
    assert torch.allclose(model(x), expected, atol=1e-6, rtol=1e-5)
    assert reslab.spec_diff(reslab.get_spec(name).replace(**TINY, num_classes=5), model.spec) == [
        ("attention", "none", kind)]  # what `reslab diff` prints for the two specs
    rebuilt = reslab.build(model.spec).eval()
    rebuilt.load_state_dict(model.state_dict())  # the spec describes the modules exactly
    assert torch.equal(rebuilt(x), model(x))


def test_inserted_gate_is_trainable():
    model = tiny()
    insert_attention(model, "se", stages=[4])
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert model.layer4[0].se.fc2.weight.grad.abs().sum() > 0


def test_attention_in_some_stages_is_written_into_the_spec_per_stage():
    model = tiny().eval()
    x = torch.randn(2, 3, 32, 32)
    insert_attention(model, "eca", stages=[3, 4])
    assert model.spec.attention == ("none", "none", "eca", "eca")
    rebuilt = reslab.build(model.spec).eval()
    rebuilt.load_state_dict(model.state_dict())  # the per-stage spec describes the modules exactly
    assert torch.equal(rebuilt(x), model(x))
    insert_attention(model, "eca", stages=[1, 2])
    assert model.spec.attention == "eca"


def test_insert_attention_rejects_unknown_kind_stage_and_existing_attention():
    with pytest.raises(FinetuneError, match="choose one of"):
        insert_attention(tiny(), "gc")
    with pytest.raises(FinetuneError, match=r"\[5\] do not exist"):
        insert_attention(tiny(), "se", stages=[5])
    with pytest.raises(FinetuneError, match="already"):
        insert_attention(tiny(attention="se"), "eca")


def test_parts_follow_reslab_info_names():
    model = tiny()
    assert part_names(model) == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert [n for n, _ in parameter_parts(model)["head"]] == ["fc.weight", "fc.bias"]
