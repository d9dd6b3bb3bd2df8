"""Bad input to `reslab bench`: one-line errors, output files checked before measuring and written atomically.

Library imports stay inside the tests so that this file also runs against the code before the fix.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from harness import assert_clean_error, assert_nothing_half_written, fill_disk, run_cli

FAST = ["--batch-size", "1", "--repeats", "1", "--warmup", "1", "--img-size", "16"]
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")


def assert_usage_error(result, *words) -> None:
    """argparse's own checks (a choice, a missing argument): exit 2, no traceback, the last line names it."""
    assert "Traceback" not in result.err, result.err
    assert result.code == 2, (result.code, result.err)
    assert "error:" in result.message
    for w in words:
        assert w.lower() in result.message.lower(), (w, result.message)


@pytest.mark.parametrize("argv, words", [
    pytest.param(["resnet5"], ["unknown model 'resnet5'", "resnet50"], id="unknown-model"),
    pytest.param(["resnet18:attention"], ["attention", "field=value"], id="override-without-value"),
    pytest.param(["resnet18:colour=red"], ["colour", "not a spec field"], id="unknown-field"),
    pytest.param(["resnet18:depths=x"], ["depths", "int"], id="bad-value"),
    pytest.param(["resnet18:depths=2,2"], ["depths has 2"], id="wrong-stage-count"),
    pytest.param(["resnet18:"], ["field=value"], id="empty-override"),
    pytest.param(["resnet20_cifar", "--batch-size", "0"], ["batch_size", "at least 1"], id="batch-size-0"),
    pytest.param(["resnet20_cifar", "--repeats", "0"], ["repeats", "at least 1"], id="repeats-0"),
    pytest.param(["resnet20_cifar", "--warmup", "0"], ["warmup", "at least 1"], id="warmup-0"),
    pytest.param(["resnet20_cifar", "--img-size", "4"], ["img_size", "at least 8"], id="img-size-tiny"),
    pytest.param(["tresnet_m", "--img-size", "30"], ["tresnet_m cannot take 30 px", "224"],
                 id="img-size-the-model-cannot-take"),
    pytest.param(["resnet20_cifar", "--against", "keras"], ["--against", "keras"], id="against-unknown"),
    pytest.param(["resnet20_cifar", "--compile-mode", "reduce-overhead"], ["needs --compile"],
                 id="compile-mode-without-compile"),
    pytest.param(["resnet20_cifar", "--fold-bn", "--mode", "train"], ["--fold-bn", "infer"], id="fold-bn-train"),
    pytest.param(["resnet20_cifar", "--device", "cuda"], ["cuda", "--device cpu"], id="cuda-without-gpu",
                 marks=NO_GPU),
])
def test_bad_settings_fail_in_one_line(argv, words, tmp_path):
    result = run_cli(["bench", *argv[:1], *FAST, *argv[1:]])  # the later value of a flag wins
    assert_clean_error(result, 2, *words)


@pytest.mark.parametrize("argv, words", [
    pytest.param(["--amp", "bf61"], ["--amp", "bf61", "bf16"], id="amp-typo"),
    pytest.param(["--mode", "inference"], ["--mode", "inference", "infer"], id="mode-typo"),
    pytest.param(["--device", "gpu"], ["--device", "gpu", "cuda"], id="device-typo"),
])
def test_a_value_not_among_the_choices_is_named_with_them(argv, words):
    assert_usage_error(run_cli(["bench", "resnet20_cifar", *argv]), *words)


def _a_file(tmp: Path) -> Path:
    (tmp / "taken").write_text("a file")
    return tmp / "taken"


@pytest.mark.parametrize("flag", ["--json", "--csv"])
@pytest.mark.parametrize("target, words", [
    pytest.param(lambda tmp: _a_file(tmp) / "r.out", ["is a file, not a folder"], id="inside-a-file"),
    pytest.param(lambda tmp: tmp, ["is a folder"], id="a-folder"),
    pytest.param(lambda tmp: Path("/proc/reslab-bench/r.out"), ["cannot write", "/proc/reslab-bench"],
                 id="unwritable"),
])
def test_an_output_that_cannot_be_written_fails_before_measuring(flag, target, words, tmp_path, monkeypatch):
    import reslab.bench.run

    def no_measuring(*args, **kwargs):
        raise AssertionError("measured although the result could not be written")

    monkeypatch.setattr(reslab.bench.run, "measure", no_measuring)
    result = run_cli(["bench", "resnet20_cifar", *FAST, flag, target(tmp_path)])
    assert_clean_error(result, 2, *words)
    assert_nothing_half_written(tmp_path)


@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_a_failed_write_keeps_the_old_file(flag, tmp_path, monkeypatch):
    target = tmp_path / "r.out"
    target.write_text("old results")
    fill_disk(monkeypatch, tmp_path, room=5)  # the first bytes land, then the disk is full
    result = run_cli(["bench", "resnet20_cifar", *FAST, flag, target])
    monkeypatch.undo()
    assert result.code in (1, 2) and "Traceback" not in result.err, result.err
    assert "no space left on device" in result.message.lower() and str(target) in result.message
    assert target.read_text() == "old results"
    assert_nothing_half_written(tmp_path)


def test_json_and_csv_hold_the_measured_rows(tmp_path):
    result = run_cli(["bench", "resnet20_cifar:attention=se,se,none", *FAST, "--json", tmp_path / "r.json",
                      "--csv", tmp_path / "r.csv"])
    assert result.code == 0, result.err
    (row,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert row["model"] == "resnet20_cifar:attention=se,se,none" and row["images_per_s"] > 0
    with (tmp_path / "r.csv").open() as f:
        (csv_row,) = csv.DictReader(f)
    assert csv_row["model"] == row["model"] and float(csv_row["images_per_s"]) == pytest.approx(row["images_per_s"])
    assert_nothing_half_written(tmp_path)
