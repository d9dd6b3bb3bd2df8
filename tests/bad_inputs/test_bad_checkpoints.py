"""Checkpoints: every kind of bad file gets one line naming it and the problem; files the library accepts load
whatever their name; saving is atomic and says why it failed. Library imports stay inside the tests."""
from __future__ import annotations

import errno
import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from harness import assert_clean_error, assert_nothing_half_written, fill_disk, run_cli

TINY_SPEC = dict(depths=(1, 1, 1), widths=(4, 8, 16), stem_channels=4, num_classes=2, input_size=16)


def tiny_model():
    import reslab

    return reslab.build(reslab.get_spec("resnet20_cifar").replace(**TINY_SPEC)).eval()


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A valid ResLab checkpoint of the tiny model, with preprocessing and class names."""
    import reslab

    model = tiny_model()
    model.preprocessing = reslab.Preprocessing(input_size=16)
    return reslab.save_weights(model, tmp_path_factory.mktemp("good") / "tiny.safetensors",
                               classes=["dark", "light"])


# --- bad files: each maker writes one into `folder` from the good checkpoint ---------------------------------
def _state(good: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(good))


def _edited(edit_meta=lambda meta: meta, edit_state=lambda state: state):
    """A maker for the good checkpoint with its metadata dict passed through `edit_meta` (a str result is raw
    JSON) and its state dict through `edit_state`."""
    def make(good: Path, folder: Path) -> Path:
        from safetensors import safe_open
        from safetensors.torch import save_file

        with safe_open(str(good), framework="pt") as f:
            meta = json.loads(f.metadata()["reslab"])
        raw = edit_meta(meta)
        path = folder / "edited.safetensors"
        save_file(edit_state(_state(good)), str(path),
                  metadata={"reslab": raw if isinstance(raw, str) else json.dumps(raw)})
        return path

    return make


def _edited_metadata(edit):
    return _edited(edit_meta=edit)


def _filled(key: str, value: float):
    """A maker for the good checkpoint with every value of tensor `key` set to `value` (NaN, inf, a huge one)."""
    return _edited(edit_state=lambda state: {**state, key: torch.full_like(state[key], value)})


def _set(section: str | None, key: str, value):
    def edit(meta):
        (meta[section] if section else meta)[key] = value
        return meta

    return edit


def _bytes(name: str, content):
    def make(good: Path, folder: Path) -> Path:
        (folder / name).write_bytes(content(good) if callable(content) else content)
        return folder / name

    return make


def _torch_file(name: str, obj):
    def make(good: Path, folder: Path) -> Path:
        torch.save(obj(good) if callable(obj) else obj, folder / name)
        return folder / name

    return make


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pickled code ran",))


def _pickled(good: Path, folder: Path) -> Path:
    (folder / "evil.pth").write_bytes(pickle.dumps({"conv1.weight": Evil()}))
    return folder / "evil.pth"


def _folder(good: Path, folder: Path) -> Path:
    (folder / "run").mkdir()
    return folder / "run"


BAD_FILES = [
    pytest.param(_bytes("empty.safetensors", b""), ["empty"], id="zero-byte-file"),
    pytest.param(_bytes("cut.safetensors", lambda g: g.read_bytes()[:len(g.read_bytes()) // 2]), ["truncated"],
                 id="truncated-safetensors"),
    pytest.param(_bytes("cut.pth", lambda g: _torch_bytes(_state(g))[:3000]), ["truncated"], id="truncated-torch-zip"),
    pytest.param(_bytes("notes.safetensors", b"these are not weights\n"), ["not a checkpoint", "safetensors"],
                 id="text-named-safetensors"),
    pytest.param(_folder, ["run", "directory"], id="directory-as-checkpoint"),
    pytest.param(lambda g, f: f / "absent.safetensors", ["absent.safetensors"], id="missing-file"),
    pytest.param(_torch_file("list.pth", [1, 2, 3]), ["holds a list", "state dict"], id="pth-holding-a-list"),
    pytest.param(_torch_file("mixed.pth", {"conv1.weight": torch.zeros(1), "note": "hi"}), ["not a state dict"],
                 id="pth-with-non-tensors"),
    pytest.param(_torch_file("nothing.pth", {}), ["no tensors"], id="pth-without-tensors"),
    pytest.param(_pickled, ["pickled", "refused"], id="pickled-object"),
    pytest.param(_torch_file("plain.pth", _state), ["no ResLab metadata"], id="no-metadata"),
    pytest.param(_edited_metadata(lambda meta: "{not json"), ["edited.safetensors", "not valid JSON"],
                 id="metadata-not-json"),
    pytest.param(_edited_metadata(lambda meta: [meta]), ["edited.safetensors", "not an object"], id="metadata-list"),
    pytest.param(_edited_metadata(lambda meta: {k: v for k, v in meta.items() if k != "spec"}), ["'spec'"],
                 id="metadata-without-spec"),
    pytest.param(_edited_metadata(_set("spec", "colour", "red")), ["'spec'", "colour"], id="spec-unknown-field"),
    pytest.param(_edited_metadata(_set("spec", "depths", "abc")), ["'spec'", "depths"], id="spec-wrong-type"),
    pytest.param(_edited_metadata(_set("spec", "drop_rate", "high")), ["'spec'"], id="spec-string-for-number"),
    pytest.param(_edited_metadata(_set(None, "spec", "resnet50")), ["'spec'", "object"], id="spec-not-an-object"),
    pytest.param(_edited_metadata(_set("preprocessing", "crop_pct", 0)), ["'preprocessing'", "crop_pct"],
                 id="preprocessing-crop-zero"),
    pytest.param(_edited_metadata(_set("preprocessing", "input_size", 100_000)), ["input_size", "1 to 4096", "100000"],
                 id="preprocessing-input-size-huge"),
    pytest.param(_edited_metadata(_set("preprocessing", "std", [0.2, 0, 0.2])), ["'preprocessing'", "std"],
                 id="preprocessing-zero-std"),
    pytest.param(_edited_metadata(_set("preprocessing", "interpolation", "cubic")), ["interpolation", "cubic"],
                 id="preprocessing-unknown-interpolation"),
    pytest.param(_edited_metadata(_set("preprocessing", "size", 16)), ["'preprocessing'", "size"],
                 id="preprocessing-unknown-field"),
    pytest.param(_edited_metadata(_set(None, "classes", [1, 2])), ["'classes'", "strings"], id="classes-not-strings"),
    pytest.param(_edited_metadata(_set(None, "classes", ["a", "b", "c"])), ["'classes'", "3", "2 outputs"],
                 id="classes-count-differs"),
    pytest.param(_edited_metadata(_set("spec", "depths", [10 ** 6] * 3)), ["'spec'", "3,000,000 blocks",
                                                                          "check its depths"], id="spec-depths-huge"),
    pytest.param(_edited_metadata(_set("spec", "widths", [4, 8, 10 ** 6])), ["'spec'", "billion parameters",
                                                                            "widths"], id="spec-widths-huge"),
    pytest.param(_filled("bn1.running_var", float("nan")), ["edited.safetensors", "tensor bn1.running_var",
                                                            "NaN values (4 of 4)", "damaged"], id="nan-weight"),
    pytest.param(_filled("layer1.0.conv1.weight", float("-inf")), ["tensor layer1.0.conv1.weight", "infinite"],
                 id="inf-weight"),
]


def _torch_bytes(obj) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("make, words", BAD_FILES)
@pytest.mark.parametrize("command", ["export", "eval"])
def test_bad_checkpoint_is_one_line_naming_the_problem(good, tmp_path, tiny_folder, make, words, command):
    bad = make(good, tmp_path)
    out = tmp_path / "out"
    argv = (["export", bad, "--format", "torchscript", "--output", out / "m.pt"] if command == "export"
            else ["eval", "--checkpoint", bad, "--data", tiny_folder, "--confusion", out / "c.png"])
    result = run_cli(argv)
    assert_clean_error(result, 2, *words)
    assert "pickled code ran" not in result.out + result.err
    assert not out.exists() or not any(out.iterdir())


# --- what the library accepts, whatever the file is called ---------------------------------------------------
def test_safetensors_named_ckpt_is_recognised_by_content(good, tmp_path):
    renamed = tmp_path / "tiny.ckpt"
    renamed.write_bytes(good.read_bytes())
    result = run_cli(["export", renamed, "--format", "torchscript", "--output", tmp_path / "m.pt"])
    assert result.code == 0, result.err
    assert (tmp_path / "m.pt").is_file()


@pytest.mark.parametrize("name, legacy", [("w.th", False), ("w.weights", False), ("old.pth", True)])
def test_torch_files_load_whatever_their_suffix(good, tmp_path, name, legacy):
    import reslab

    torch.save(_state(good), tmp_path / name, _use_new_zipfile_serialization=not legacy)
    model = tiny_model()
    reslab.load_weights(model, tmp_path / name)
    expected = tiny_model()
    expected.load_state_dict(_state(good))  # PyTorch's own loader is the truth
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(model(x), expected(x))


def test_torch_files_are_read_with_weights_only(good, tmp_path, monkeypatch):
    from reslab.weights import read_checkpoint

    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k.get("weights_only")) or real(*a, **k))
    torch.save(_state(good), tmp_path / "w.th")
    read_checkpoint(tmp_path / "w.th")
    assert calls == [True]


def test_checkpoint_without_num_batches_tracked_loads_like_pytorch(good):
    import reslab

    state = {k: v for k, v in _state(good).items() if not k.endswith("num_batches_tracked")}
    expected = tiny_model()
    expected.load_state_dict(state)  # PyTorch accepts these legacy checkpoints
    model = tiny_model()
    reslab.load_weights(model, state)
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(model(x), expected(x))


def test_other_missing_keys_still_fail_naming_them(good):
    import reslab
    from reslab.errors import ReslabError

    state = {k: v for k, v in _state(good).items() if not k.endswith("num_batches_tracked") and k != "bn1.weight"}
    with pytest.raises(ReslabError, match=r"missing keys bn1\.weight$"):
        reslab.load_weights(tiny_model(), state)


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod."])
def test_wrapper_prefixes_are_stripped_from_safetensors(good, tmp_path, prefix):
    import reslab
    from safetensors.torch import save_file

    save_file({prefix + k: v for k, v in _state(good).items()}, str(tmp_path / "ddp.safetensors"))
    model = tiny_model()
    reslab.load_weights(model, tmp_path / "ddp.safetensors")
    assert torch.equal(model.fc.weight, _state(good)["fc.weight"])


def test_renamed_keys_say_how_to_rename_them(good, tmp_path):
    import reslab
    from reslab.errors import ReslabError

    torch.save({k.replace("fc.", "linear.", 1): v for k, v in _state(good).items()}, tmp_path / "renamed.pth")
    with pytest.raises(ReslabError, match=r"missing keys fc\.bias, fc\.weight.*rename 'linear\.' -> 'fc\.'"):
        reslab.load_weights(tiny_model(), tmp_path / "renamed.pth")


API_CASES = [
    pytest.param(lambda reslab, good, tmp: reslab.create_model("resnet18", weights=tmp / "absent.pth"),
                 ["does not exist", "absent.pth"], id="create-model-missing-weights"),
    pytest.param(lambda reslab, good, tmp: reslab.create_model("resnet18", weights=5), ["path or a state dict"],
                 id="create-model-weights-not-a-path"),
    pytest.param(lambda reslab, good, tmp: reslab.create_model("resnet18", num_classes=2, weights=good),
                 ["does not fit", "wrongly shaped", "spec differs"],
                 id="other-architecture"),
    pytest.param(lambda reslab, good, tmp: reslab.save_weights(tiny_model(), tmp / "m.safetensors", classes=["a"]),
                 ["m.safetensors", "'classes'", "1 classes"], id="save-wrong-class-count"),
    pytest.param(lambda reslab, good, tmp: reslab.save_weights(tiny_model(), tmp / "m.safetensors",
                                                               classes={"a", "b"}),
                 ["m.safetensors", "JSON"], id="save-metadata-not-json"),
]


@pytest.mark.parametrize("call, words", API_CASES)
def test_bad_api_calls_raise_one_line_errors(good, tmp_path, call, words):
    import reslab
    from reslab.errors import ReslabError

    with pytest.raises(ReslabError) as err:
        call(reslab, good, tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert all(w.lower() in message.lower() for w in words), message
    assert not any(tmp_path.iterdir())  # nothing written


# --- load_model and eval of a checkpoint saved from reslab.build ---------------------------------------------
def test_eval_of_a_built_models_checkpoint_uses_default_preprocessing(tmp_path, tiny_folder):
    import reslab

    path = reslab.save_weights(tiny_model(), tmp_path / "built.safetensors")  # no preset, no preprocessing
    assert reslab.weights.load_model(path).preprocessing.input_size == 16
    result = run_cli(["eval", "--checkpoint", path, "--data", tiny_folder, "--confusion", tmp_path / "c.png"])
    assert result.code == 0, result.err
    assert "top-1" in result.out


# --- writing: a full disk or a read-only folder leaves the last good file and names the target ----------------
@pytest.fixture
def disk_full(monkeypatch):
    """disk_full(folder): files opened for writing in `folder` take 1 KiB, then fail as a full disk does."""
    return lambda folder: fill_disk(monkeypatch, folder)


@pytest.fixture
def read_only(monkeypatch):
    """read_only(folder): no new file can be created in `folder` (chmod; root ignores that, so a monkeypatch)."""
    def make(folder: Path):
        if os.geteuid() != 0:
            folder.chmod(0o500)
            return
        real = os.open

        def fake_open(file, flags, *args, **kwargs):
            if flags & os.O_CREAT and Path(file).resolve().parent == folder.resolve():
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
            return real(file, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake_open)

    yield make


@pytest.mark.parametrize("layout, name", [("reslab", "m.safetensors"), ("timm", "m.pth")])
@pytest.mark.parametrize("failure, reason", [("disk_full", errno.ENOSPC), ("read_only", errno.EACCES)])
def test_failed_save_names_the_target_and_keeps_the_last_good_file(tmp_path, request, layout, name, failure,
                                                                     reason):
    import reslab

    model = reslab.create_model("resnet18", widths=(8, 16, 32, 64), num_classes=3)
    target = reslab.save_weights(model, tmp_path / name, layout=layout)
    before = target.read_bytes()
    request.getfixturevalue(failure)(tmp_path)
    try:
        with pytest.raises(OSError) as err:
            reslab.save_weights(model, target, layout=layout)
    finally:
        tmp_path.chmod(0o700)
    assert err.value.errno == reason and err.value.filename == str(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert_nothing_half_written(tmp_path)


def test_saved_checkpoints_are_readable_by_others_as_usual(tmp_path):
    import reslab

    umask = os.umask(0o022)
    try:
        path = reslab.save_weights(tiny_model(), tmp_path / "m.safetensors")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's owner-only 0600


# --- non-finite weights or outputs: refused, never printed as probabilities or metrics --------------------------
@pytest.mark.parametrize("make, words", [
    pytest.param(_filled("bn1.running_var", float("nan")), ["tensor bn1.running_var", "NaN values"], id="nan-weight"),
    pytest.param(_filled("bn1.weight", 3e38), ["NaN or infinite", "weights are finite", "overflow"],
                 id="finite-weights-overflowing"),
])
@pytest.mark.parametrize("command", ["predict", "eval"])
def test_non_finite_weights_or_outputs_are_one_line_not_nan_results(good, tmp_path, tiny_folder, make, words,
                                                                    command):
    bad = make(good, tmp_path)
    png = tmp_path / "c.png"
    argv = (["predict", tiny_folder / "val", "--checkpoint", bad] if command == "predict"
            else ["eval", "--checkpoint", bad, "--data", tiny_folder, "--confusion", png])
    result = run_cli(argv)
    assert_clean_error(result, 2, *words)
    assert "nan" not in result.out.lower() and not png.exists()


# --- a spec's size is bounded before anything is built; no preset comes near the bound -------------------------
def test_a_spec_too_large_to_build_is_refused_before_building(good, tmp_path, tiny_folder, monkeypatch):
    """A 25 KB checkpoint whose spec says depths of a million: one line, and the builder never runs."""
    import reslab.models

    def build(spec):
        raise AssertionError(f"built a network of depths {spec.depths}")

    monkeypatch.setattr(reslab.models, "build", build)
    bad = _edited_metadata(_set("spec", "depths", [10 ** 6] * 3))(good, tmp_path)
    result = run_cli(["predict", tiny_folder / "val", "--checkpoint", bad])
    assert_clean_error(result, 2, "edited.safetensors", "3,000,000 blocks", "more than ResLab builds (10,000)")


def test_every_preset_is_well_within_the_size_bounds_and_its_size_estimate_near_the_papers():
    from reslab.registry import list_presets
    from reslab.spec import approx_params
    from reslab.spec.base import MAX_BLOCKS, MAX_PARAMS

    presets = list_presets()
    assert len(presets) > 150
    for preset in presets:
        spec = preset.spec
        assert sum(getattr(spec, "depths", None) or spec.block_config) < MAX_BLOCKS / 10, preset.name
        assert approx_params(spec) < MAX_PARAMS / 3, preset.name
        if preset.params_m_paper:  # the estimate is a size, not a guess: within a factor 1.5 of the paper's
            assert 1 / 1.5 < approx_params(spec) / (preset.params_m_paper * 1e6) < 1.5, preset.name
