"""Weights: safetensors + metadata, layout detection, no pickled code, clear mismatch errors, atomic writes."""
import json
import pickle

import pytest
import torch
from safetensors import safe_open

import reslab
from reslab.weights import WeightsError, load_model, read_checkpoint


@pytest.fixture
def small():
    return reslab.create_model("resnet18", num_classes=7, widths=(8, 16, 32, 64)).eval()


def test_save_writes_safetensors_with_spec_and_preprocessing(small, tmp_path):
    path = reslab.save_weights(small, tmp_path / "m.safetensors", classes=list("abcdefg"))
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["reslab"])
    assert meta["spec"]["widths"] == [8, 16, 32, 64]
    assert meta["num_classes"] == 7 and meta["classes"] == list("abcdefg")
    assert meta["preprocessing"]["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_load_model_rebuilds_the_network_from_metadata_alone(small, tmp_path):
    path = reslab.save_weights(small, tmp_path / "m.safetensors")
    again = load_model(path).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(again(x), small(x))
    assert again.spec == small.spec


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin"])
def test_torch_files_load_and_ddp_prefix_is_stripped(small, tmp_path, suffix):
    path = tmp_path / f"w{suffix}"
    torch.save({"state_dict": {f"module.{k}": v for k, v in small.state_dict().items()}}, path)
    fresh = reslab.create_model("resnet18", num_classes=7, widths=(8, 16, 32, 64)).eval()
    reslab.load_weights(fresh, path)
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(fresh(x), small(x))


class Evil:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv1.weight": Evil()}, f)
    with pytest.raises(WeightsError, match="refused"):
        read_checkpoint(path)


def test_mismatch_names_missing_unexpected_and_wrongly_shaped_keys(small, tmp_path):
    state = dict(small.state_dict())
    state.pop("layer1.0.conv1.weight")
    state["extra.weight"] = torch.zeros(1)
    state["layer2.0.conv2.weight"] = torch.zeros(3, 3, 3, 3)
    model = reslab.create_model("resnet18", num_classes=7, widths=(8, 16, 32, 64))
    with pytest.raises(WeightsError) as err:
        reslab.load_weights(model, state)
    msg = str(err.value)
    assert "missing keys layer1.0.conv1.weight" in msg
    assert "unexpected keys extra.weight" in msg
    assert "layer2.0.conv2.weight (model (16, 16, 3, 3), checkpoint (3, 3, 3, 3))" in msg


def test_other_class_count_reinitialises_the_head_with_a_warning(small, tmp_path):
    path = reslab.save_weights(small, tmp_path / "m.safetensors")
    with pytest.warns(UserWarning, match="head is re-initialised"):
        model = reslab.create_model("resnet18", num_classes=3, widths=(8, 16, 32, 64), weights=str(path))
    assert model.fc.out_features == 3
    assert torch.equal(model.layer1[0].conv1.weight, small.layer1[0].conv1.weight)


def test_a_different_architecture_is_an_error_not_a_new_head(small, tmp_path):
    path = reslab.save_weights(small, tmp_path / "m.safetensors")
    with pytest.raises(WeightsError, match="wrongly shaped"):
        reslab.create_model("resnet18", num_classes=7, weights=str(path))


def test_missing_file_and_unknown_content_are_clear(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.safetensors")
    (tmp_path / "w.pth").write_text("x")
    with pytest.raises(WeightsError, match="w.pth is not a checkpoint"):
        read_checkpoint(tmp_path / "w.pth")


def test_failed_save_keeps_the_previous_file(small, tmp_path, monkeypatch):
    path = reslab.save_weights(small, tmp_path / "m.safetensors")
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("reslab.weights.writing.write_bytes", boom)
    with pytest.raises(RuntimeError):
        reslab.save_weights(small, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left behind


def test_timm_safetensors_export_loads_back_through_auto_detection(tmp_path):
    model = reslab.create_model("legacy_seresnet50", widths=(8, 16, 32, 64), num_classes=5).eval()
    path = reslab.save_weights(model, tmp_path / "legacy.safetensors", layout="timm")
    state, meta = read_checkpoint(path)
    assert meta == {} and "layer0.conv1.weight" in state and "last_linear.weight" in state
    fresh = reslab.create_model("legacy_seresnet50", widths=(8, 16, 32, 64), num_classes=5).eval()
    reslab.load_weights(fresh, path)
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(fresh(x), model(x))


@pytest.mark.parametrize("source", ["file", "run directory"])
def test_create_model_from_a_checkpoint_then_save_keeps_its_classes_and_preprocessing(small, tmp_path, source):
    from reslab.spec import Preprocessing

    small.preprocessing = Preprocessing(input_size=40, crop_pct=0.9, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    path = reslab.save_weights(small, tmp_path / "run" / "last.safetensors", classes=list("abcdefg"))
    model = reslab.create_model("resnet18", num_classes=7, widths=(8, 16, 32, 64),
                                weights=path if source == "file" else path.parent)
    assert model.classes == list("abcdefg") and model.preprocessing == small.preprocessing
    again = load_model(reslab.save_weights(model, tmp_path / "again.safetensors"))
    assert again.classes == list("abcdefg") and again.preprocessing == small.preprocessing


def test_a_new_head_drops_the_checkpoints_class_names(small, tmp_path):
    path = reslab.save_weights(small, tmp_path / "m.safetensors", classes=list("abcdefg"))
    with pytest.warns(UserWarning):
        model = reslab.create_model("resnet18", num_classes=3, widths=(8, 16, 32, 64), weights=path)
    assert model.classes is None
    assert load_model(reslab.save_weights(model, tmp_path / "new.safetensors")).classes is None
