"""`reslab export`: bad options are one line before anything is traced; a failed write or check leaves no file and
keeps the previous one byte for byte. Library imports stay inside the tests."""
from __future__ import annotations

import os

import pytest
import torch

from harness import assert_clean_error, assert_nothing_half_written, run_cli
from test_bad_checkpoints import _state, disk_full, good  # noqa: F401  (fixtures shared with the checkpoint cases)

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}

BAD_OPTIONS = [
    pytest.param(["--format", "onnx", "--input-size", "0"], "m.onnx", ["--input-size", "0"], id="input-size-zero"),
    pytest.param(["--format", "onnx", "--input-size", "-32"], "m.onnx", ["--input-size", "-32"],
                 id="input-size-negative"),
    pytest.param(["--format", "onnx", "--batch-size", "0"], "m.onnx", ["--batch-size", "0"], id="batch-size-zero"),
    pytest.param(["--format", "onnx", "--opset", "99"], "m.onnx", ["--opset 99", "opsets"], id="opset-too-high"),
    pytest.param(["--format", "onnx", "--opset", "3"], "m.onnx", ["--opset 3", "opsets"], id="opset-too-low"),
    pytest.param(["--format", "onnx", "--tolerance", "-1"], "m.onnx", ["--tolerance", "-1"], id="tolerance-negative"),
    pytest.param(["--format", "onnx", "--tolerance", "nan"], "m.onnx", ["--tolerance", "nan"], id="tolerance-nan"),
    pytest.param(["--format", "torchscript", "--opset", "13"], "m.pt", ["only to onnx"], id="opset-for-torchscript"),
    pytest.param(["--format", "torchscript", "--dynamic-batch"], "m.pt", ["--dynamic-batch", "torchscript"],
                 id="dynamic-batch-torchscript"),
    pytest.param(["--format", "exported-program"], "m.ep", [".pt2"], id="exported-program-suffix"),
    pytest.param(["--format", "onnx"], "", ["folder", "file name"], id="output-is-a-folder"),
]


@pytest.mark.parametrize("options, name, words", BAD_OPTIONS)
def test_bad_export_options_are_one_line(good, tmp_path, options, name, words):
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(["export", good, *options, "--output", out / name])
    assert_clean_error(result, 2, *words)
    assert not any(out.iterdir())


def test_format_typo_is_a_usage_error_naming_the_choices(good, tmp_path):
    result = run_cli(["export", good, "--format", "onxx", "--output", tmp_path / "m.onnx"])  # argparse's own line
    assert result.code == 2 and "Traceback" not in result.err
    assert "invalid choice: 'onxx'" in result.err and "exported-program" in result.err
    assert not any(tmp_path.iterdir())


def test_export_of_a_checkpoint_without_metadata_says_how_to_save_one(good, tmp_path):
    torch.save(_state(good), tmp_path / "plain.pth")
    result = run_cli(["export", tmp_path / "plain.pth", "--format", "onnx", "--output", tmp_path / "m.onnx"])
    assert_clean_error(result, 2, "plain.pth", "no ResLab metadata", "save_weights")
    assert not (tmp_path / "m.onnx").exists()


def test_export_into_a_missing_folder_creates_it(good, tmp_path):
    result = run_cli(["export", good, "--format", "torchscript", "--output", tmp_path / "new" / "deeper" / "m.pt"])
    assert result.code == 0, result.err
    assert [p.name for p in (tmp_path / "new" / "deeper").iterdir()] == ["m.pt"]


@pytest.fixture
def previous(tmp_path):
    """Where an export goes, with a previous good file there: a failed export must leave it byte for byte."""
    def make(fmt: str):
        out = tmp_path / "out"
        out.mkdir()
        target = out / f"m{SUFFIX[fmt]}"
        target.write_bytes(b"the previous good export")
        return target

    return make


@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_full_disk_leaves_the_previous_export(good, previous, disk_full, fmt):  # noqa: F811
    target = previous(fmt)
    disk_full(target.parent)
    result = run_cli(["export", good, "--format", fmt, "--output", target])
    assert_clean_error(result, 1, "no space left", str(target))
    assert target.read_bytes() == b"the previous good export"
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    assert_nothing_half_written(target.parent)


def test_an_export_that_disagrees_keeps_the_previous_file(good, previous, monkeypatch):
    from reslab.deploy import export as export_module

    real = export_module.RUNNERS["onnx"]
    monkeypatch.setitem(export_module.RUNNERS, "onnx", lambda path, x: real(path, x) + 0.5)
    target = previous("onnx")
    result = run_cli(["export", good, "--format", "onnx", "--output", target])
    assert_clean_error(result, 2, "differs from the PyTorch model by 0.5", "not written")
    assert target.read_bytes() == b"the previous good export"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_an_export_that_cannot_be_loaded_back_is_one_line(good, previous, monkeypatch):
    from reslab.deploy import export as export_module

    def unloadable(path, x):
        raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH : Load model failed\nmore detail")

    monkeypatch.setitem(export_module.RUNNERS, "onnx", unloadable)
    target = previous("onnx")
    result = run_cli(["export", good, "--format", "onnx", "--output", target])
    assert_clean_error(result, 2, "cannot be loaded back", "INVALID_GRAPH")
    assert target.read_bytes() == b"the previous good export"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_onnx_over_two_gigabytes_suggests_another_format(good, tmp_path, monkeypatch):
    from reslab.deploy import export as export_module

    monkeypatch.setattr(export_module, "ONNX_FILE_LIMIT", 1000)  # stands for 2 GiB: the tiny model has ~20 kB
    result = run_cli(["export", good, "--format", "onnx", "--output", tmp_path / "m.onnx"])
    assert_clean_error(result, 2, "2 GiB", "exported-program")
    assert not (tmp_path / "m.onnx").exists()


@pytest.fixture
def no_export(monkeypatch):
    """Loading the model or exporting it fails the test: the case must be refused before any work."""
    def work(*args, **kwargs):
        raise AssertionError("the export went ahead")

    monkeypatch.setattr("reslab.cli.export.load_model_from_args", work)
    monkeypatch.setattr("reslab.deploy.export.export", work)


def test_output_under_a_file_is_refused_before_any_work(good, tmp_path, no_export):
    (tmp_path / "afile").write_text("mine")
    result = run_cli(["export", good, "--format", "onnx", "--output", tmp_path / "afile" / "m.onnx"])
    assert_clean_error(result, 2, "afile", "is a file, not a folder")
    assert result.err.count("\n") == 1, result.err  # the one line; no library warnings
    assert (tmp_path / "afile").read_text() == "mine"


def _run_folder(good, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.safetensors").write_bytes(good.read_bytes())
    return run


@pytest.mark.parametrize("output", [
    pytest.param(lambda run: (run, run / "last.safetensors"), id="run-folder-into-its-checkpoint"),
    pytest.param(lambda run: (run / "last.safetensors", run / ".." / "run" / "last.safetensors"), id="same-file"),
    pytest.param(lambda run: (run / "last.safetensors", _link(run, os.symlink)), id="symlink-to-it"),
    pytest.param(lambda run: (run / "last.safetensors", _link(run, os.link)), id="hard-link-to-it"),
])
def test_an_export_never_writes_over_its_own_checkpoint(good, tmp_path, no_export, output):
    run = _run_folder(good, tmp_path)
    source, target = output(run)
    result = run_cli(["export", source, "--format", "onnx", "--output", target])
    assert_clean_error(result, 2, "is the checkpoint being exported", "name another file")
    assert (run / "last.safetensors").read_bytes() == good.read_bytes()


def _link(run, make) -> str:
    make(run / "last.safetensors", run / "m.onnx")
    return str(run / "m.onnx")
