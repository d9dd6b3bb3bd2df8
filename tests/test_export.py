"""Export: BatchNorm folding equals the original; each format is written, reloaded and checked against PyTorch."""
import pytest
import torch
from torch import nn

import reslab
from reslab.deploy import export as export_module
from reslab.cli import main
from reslab.deploy.export import ExportError, export, fold_bn

TINY = {"widths": (8, 16, 32, 64), "num_classes": 5}
FAMILIES = {
    "resnet18": TINY,
    "resnet50d": {**TINY, "depths": (1, 1, 1, 1)},  # deep stem, avgpool shortcut
    "seresnet50": {**TINY, "depths": (1, 1, 1, 1)},
    "cbam_resnet50": {**TINY, "depths": (1, 1, 1, 1)},
    "skresnet18": TINY,  # selective kernel: its forward is searched module by module
    "preactresnet18": TINY,
    "densenet121": {"block_config": (1, 1, 1, 1), "growth_rate": 8, "num_classes": 5},
}


def with_random_norm_statistics(model):
    """Fresh BNs are the identity; trained ones are not, and folding must be exact for those."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("name", FAMILIES)
def test_folded_model_equals_the_original(name):
    model = with_random_norm_statistics(reslab.create_model(name, **FAMILIES[name]))
    folded = fold_bn(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        assert torch.allclose(folded(x), expected, atol=1e-4 * expected.abs().max().item() + 1e-5)
    remaining = sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert folded.folded_norms > 0 and remaining == len(folded.unfolded_norms)
    assert not folded.training


def test_post_activation_resnets_keep_no_batchnorm():
    folded = fold_bn(reslab.create_model("resnet50d", **FAMILIES["resnet50d"]))
    assert folded.unfolded_norms == []
    assert folded.layer1[0].conv3.bias is not None


def test_norms_before_their_convolution_stay_and_are_named():
    folded = fold_bn(reslab.create_model("preactresnet18", **TINY))
    assert "layer1.0.bn0" in folded.unfolded_norms and "norm" in folded.unfolded_norms
    assert isinstance(folded.layer1[0].bn1, nn.Identity)  # a post-conv norm inside the block is still folded


def test_fold_bn_leaves_the_original_untouched():
    model = reslab.create_model("resnet18", **TINY).train()
    fold_bn(model)
    assert model.training and isinstance(model.bn1, nn.BatchNorm2d) and model.conv1.bias is None


@pytest.mark.slow
@pytest.mark.parametrize("fmt,suffix,dynamic", [("onnx", ".onnx", True), ("torchscript", ".ts", False),
                                                ("exported-program", ".pt2", True)])
def test_each_format_is_verified_against_pytorch(tmp_path, fmt, suffix, dynamic):
    model = with_random_norm_statistics(reslab.create_model("resnet18", **TINY))
    result = export(model, tmp_path / f"m{suffix}", fmt, input_size=32, dynamic_batch=dynamic)
    assert (tmp_path / f"m{suffix}").is_file()
    assert result["max_abs_diff"] < 1e-4 and result["folded_norms"] == 21
    assert result["batch_checked"] == (3 if dynamic else 2)  # a dynamic export is checked on another batch size


def test_an_export_that_disagrees_is_refused_and_removed(tmp_path, monkeypatch):
    real = export_module.RUNNERS["onnx"]
    monkeypatch.setitem(export_module.RUNNERS, "onnx", lambda path, x: real(path, x) + 0.5)
    with pytest.raises(ExportError, match=r"differs from the PyTorch model by 0.5"):
        export(reslab.create_model("resnet18", **TINY), tmp_path / "m.onnx", "onnx", input_size=32)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("fmt,options,reason", [
    ("torchscript", {"opset": 17}, "applies only to onnx"),
    ("torchscript", {"dynamic_batch": True}, "tracing records the example's shapes"),
    ("exported-program", {}, "must end in .pt2"),
    ("tflite", {}, "choose one of"),
])
def test_unsupported_options_say_which_and_why(tmp_path, fmt, options, reason):
    with pytest.raises(ExportError, match=reason):
        export(reslab.create_model("resnet18", **TINY), tmp_path / "m.bin", fmt, **options)


def test_export_command_prints_the_measured_difference(tmp_path, capsys):
    ckpt = reslab.save_weights(reslab.create_model("resnet18", input_size=32, **TINY), tmp_path / "m.safetensors")
    assert main(["export", str(ckpt), "--format", "onnx", "--output", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "folded 21 BatchNorm" in out and "max abs difference to PyTorch" in out
    assert "metadata (metadata_props" in out and "input_size     32" in out and "mean           [0.485" in out
    assert main(["export", str(ckpt), "--format", "torchscript", "--opset", "13", "--output",
                 str(tmp_path / "m.ts")]) == 2
    assert "--opset applies only to onnx" in capsys.readouterr().err


@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("torchscript", ".pt"), ("exported-program", ".pt2")])
def test_the_file_carries_the_preprocessing_and_class_names(tmp_path, fmt, suffix):
    import json

    model = reslab.create_model("resnet18", **TINY)
    model.classes = ["a", "b", "c", "d", "e"]
    result = export(model, tmp_path / f"m{suffix}", fmt, input_size=32)
    written = export_module.read_metadata(tmp_path / f"m{suffix}", fmt)
    assert written == result["metadata"]
    pre = model.preprocessing
    assert json.loads(written["classes"]) == model.classes and written["input_size"] == "32"
    assert json.loads(written["mean"]) == list(pre.mean) and json.loads(written["std"]) == list(pre.std)
    assert (written["interpolation"], float(written["crop_pct"])) == (pre.interpolation, pre.crop_pct)
    assert written["input_layout"].startswith("NCHW float32, RGB")
    assert json.loads(written["preprocessing"])["input_size"] == 32  # the exported size, not the preset's 224
