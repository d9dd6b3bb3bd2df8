"""Hugging Face transformers' ResNet (ResNetForImageClassification / ResNetModel, the layout of microsoft/resnet-*)
loads into the matching preset and exports back (oracle: transformers, random weights, no network)."""
import json

import pytest
import torch

import reslab
from reslab.weights import WeightsError, read_checkpoint
from reslab.weights.writing import transformers_config

transformers = pytest.importorskip("transformers")
from transformers import ResNetConfig, ResNetForImageClassification, ResNetModel  # noqa: E402

# transformers' configs of the presets (their defaults are microsoft/resnet-50's)
CONFIGS = {"resnet18": dict(layer_type="basic", hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2]),
           "resnet50": dict()}
X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def perturb_norms(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, so that a swapped or skipped norm shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.num_batches_tracked.fill_(7)
    return model.eval()


def hf_classifier(preset: str, num_labels: int = 1000, **config) -> ResNetForImageClassification:
    torch.manual_seed(0)
    return perturb_norms(ResNetForImageClassification(ResNetConfig(num_labels=num_labels,
                                                                   **{**CONFIGS[preset], **config})))


def assert_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape
    scale = theirs.abs().max().item()
    assert scale > 0
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4 * scale)


@torch.no_grad()
def hf_logits(model) -> torch.Tensor:
    return model(pixel_values=X).logits


@torch.no_grad()
def our_logits(model) -> torch.Tensor:
    return model.eval()(X)


@pytest.mark.parametrize("preset", ["resnet18", "resnet50"])
@pytest.mark.parametrize("file", ["pytorch_model.bin", "model.safetensors"])
def test_transformers_checkpoint_loads_into_the_preset_and_exports_back(tmp_path, preset, file):
    theirs = hf_classifier(preset)
    if file == "model.safetensors":  # a Hugging Face snapshot: config.json beside safetensors weights
        theirs.save_pretrained(tmp_path)
        assert (tmp_path / "config.json").is_file()
    else:  # a bare torch file of the classification model's state dict
        torch.save(theirs.state_dict(), tmp_path / file)
    model = reslab.create_model(preset, num_classes=1000, weights=tmp_path / file)
    expected = hf_logits(theirs)
    assert_close(our_logits(model), expected)

    out = reslab.save_weights(model, tmp_path / f"back{'.safetensors' if 'safe' in file else '.pth'}",
                              layout="transformers")
    config = transformers_config(model)
    for name, value in {**CONFIGS[preset], "downsample_in_bottleneck": False, "downsample_in_first_stage": False,
                        "hidden_act": "relu", "embedding_size": 64}.items():
        assert config[name] == value
    fresh = ResNetForImageClassification(ResNetConfig(**config)).eval()
    fresh.load_state_dict(read_checkpoint(out)[0], strict=True)
    assert_close(hf_logits(fresh), expected)


def test_export_is_a_snapshot_transformers_reads_with_from_pretrained(tmp_path):
    model = perturb_norms(reslab.create_model("resnet18", num_classes=5))
    reslab.save_weights(model, tmp_path / "model.safetensors", layout="transformers")
    (tmp_path / "config.json").write_text(json.dumps({**transformers_config(model), "model_type": "resnet"}))
    theirs = ResNetForImageClassification.from_pretrained(tmp_path, local_files_only=True).eval()
    assert_close(hf_logits(theirs), our_logits(model))
    # and ResLab reads its own export back, config.json and all
    again = reslab.create_model("resnet18", num_classes=5, weights=tmp_path / "model.safetensors")
    assert_close(our_logits(again), our_logits(model))


def test_bare_resnet_model_keys_load_without_prefix_or_classifier(tmp_path):
    torch.manual_seed(0)
    theirs = perturb_norms(ResNetModel(ResNetConfig(**CONFIGS["resnet18"])))
    assert not any(k.startswith(("resnet.", "classifier.")) for k in theirs.state_dict())
    torch.save(theirs.state_dict(), tmp_path / "backbone.bin")
    with torch.no_grad():
        pooled = theirs(pixel_values=X).pooler_output.flatten(1)
    with pytest.warns(UserWarning, match="classifier does not fit.*re-initialised"):
        model = reslab.create_model("resnet18", num_classes=10, weights=tmp_path / "backbone.bin")
    with torch.no_grad():
        assert_close(model.eval().forward_head(model.forward_features(X), pre_logits=True), pooled)


def test_another_number_of_classes_keeps_the_body_and_reinitialises_the_head(tmp_path):
    theirs = hf_classifier("resnet18", num_labels=7)
    torch.save(theirs.state_dict(), tmp_path / "pytorch_model.bin")
    same = reslab.create_model("resnet18", num_classes=7, weights=tmp_path / "pytorch_model.bin")
    assert_close(our_logits(same), hf_logits(theirs))
    with pytest.warns(UserWarning, match=r"fc.weight \(model \(1000, 512\), checkpoint \(7, 512\)\).*re-initialised"):
        model = reslab.create_model("resnet18", weights=tmp_path / "pytorch_model.bin")
    with torch.no_grad():
        pooled = theirs.resnet(pixel_values=X).pooler_output.flatten(1)
        assert_close(model.eval().forward_head(model.forward_features(X), pre_logits=True), pooled)


def test_stride_on_the_first_1x1_is_resnet50a_and_config_json_says_so(tmp_path):
    """downsample_in_bottleneck=True strides the bottleneck's first 1x1: ResLab's stride_on='1x1' (resnet50a)."""
    theirs = hf_classifier("resnet50", downsample_in_bottleneck=True)
    theirs.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    assert_close(our_logits(reslab.create_model("resnet50a", weights=weights)), hf_logits(theirs))
    assert_close(our_logits(reslab.create_model("resnet50", stride_on="1x1", weights=weights)), hf_logits(theirs))
    with pytest.raises(WeightsError) as err:
        reslab.create_model("resnet50", weights=weights)
    message = str(err.value)
    assert "\n" not in message
    assert "downsample_in_bottleneck=true" in message and "stride_on='3x3'" in message
    assert "create_model('resnet50', stride_on='1x1', weights=...)" in message and "--stride-on 1x1" in message
    assert "preset resnet50a is that model" in message
    # without config.json nothing tells where the stride was: the weights load, and the outputs differ
    (tmp_path / "config.json").unlink()
    unchecked = reslab.create_model("resnet50", weights=weights)
    assert not torch.allclose(our_logits(unchecked), hf_logits(theirs), atol=1e-3)
    # the export says where the stride is
    assert transformers_config(reslab.create_model("resnet50a"))["downsample_in_bottleneck"] is True


def test_first_stage_stride_and_activation_come_from_config_json(tmp_path):
    """downsample_in_first_stage: strides (2, 2, 2, 2), undilated; hidden_act: the stem's and the after-addition
    activation only (transformers' blocks use relu inside), so ResLab's stem_act and residual_act."""
    theirs = hf_classifier("resnet18", downsample_in_first_stage=True, hidden_act="gelu")
    theirs.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    with pytest.raises(WeightsError) as err:
        reslab.create_model("resnet18", weights=weights)
    message = str(err.value)
    assert "downsample_in_first_stage=true" in message and "hidden_act='gelu'" in message and "\n" not in message
    assert "--strides 2,2,2,2 --output-stride 64 --stem-act gelu --residual-act gelu" in message
    model = reslab.create_model("resnet18", strides=(2, 2, 2, 2), output_stride=64, stem_act="gelu",
                                residual_act="gelu", weights=weights)
    assert_close(our_logits(model), hf_logits(theirs))
    config = transformers_config(model)
    assert config["downsample_in_first_stage"] is True and config["hidden_act"] == "gelu"
    with pytest.raises(WeightsError, match="relu inside"):  # gelu inside the blocks has no transformers twin
        transformers_config(reslab.create_model("resnet18", act="gelu"))
    out = reslab.save_weights(model, tmp_path / "back.safetensors", layout="transformers")
    fresh = ResNetForImageClassification(ResNetConfig(**config)).eval()
    fresh.load_state_dict(read_checkpoint(out)[0], strict=True)
    assert_close(hf_logits(fresh), hf_logits(theirs))


def test_what_transformers_cannot_express_is_refused_by_name(tmp_path):
    model = reslab.create_model("resnet50d", num_classes=3)
    with pytest.raises(WeightsError) as err:
        reslab.save_weights(model, tmp_path / "d.safetensors", layout="transformers")
    message = str(err.value)
    assert message.startswith("no transformers layout for this resnet50d: transformers cannot express")
    assert "stem='deep'" in message and "shortcut='avgpool'" in message and "\n" not in message
    assert not (tmp_path / "d.safetensors").exists()
    for name, overrides, said in [("resnet50", {"attention": "se"}, "attention"),
                                  ("resnet50", {"output_stride": 16}, "output_stride=16"),
                                  ("resnext50_32x4d", {}, "grouped or widened"),
                                  ("preactresnet18", {}, "pre-activation"),
                                  ("resnet20_cifar", {}, "stem='cifar'")]:
        with pytest.raises(WeightsError, match=said):
            transformers_config(reslab.create_model(name, **overrides))


def test_layout_can_be_named_and_the_choices_list_it(tmp_path):
    theirs = hf_classifier("resnet18", num_labels=4)
    model = reslab.create_model("resnet18", num_classes=4)
    reslab.load_weights(model, theirs.state_dict(), layout="transformers")
    assert_close(our_logits(model), hf_logits(theirs))
    with pytest.raises(WeightsError, match="choose auto, reslab, timm, torchvision or transformers"):
        reslab.load_weights(model, theirs.state_dict(), layout="huggingface")
