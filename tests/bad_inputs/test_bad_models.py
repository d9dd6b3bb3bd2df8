"""Bad input to `reslab models`, `info`, `diff` and `zoo`: one-line errors; zoo --output checked first, written
atomically. Library imports stay inside the tests so that this file also runs against the code before the fix.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness import assert_clean_error, assert_nothing_half_written, fill_disk, run_cli

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")


@pytest.mark.parametrize("argv, words", [
    pytest.param(["models", "zzz*"], ["no model matches 'zzz*'"], id="models-no-match"),
    pytest.param(["models", "seresnet"], ["no model matches", "'*seresnet*'"], id="models-pattern-without-star"),
    pytest.param(["models", "resnet50x"], ["no model matches", "did you mean", "resnet50"], id="models-typo"),
    pytest.param(["info", "resnet5"], ["unknown model 'resnet5'", "resnet50"], id="info-unknown-model"),
    pytest.param(["info", "resnet18", "--attention", "sse"], ["sse"], id="info-bad-value"),
    pytest.param(["info", "resnet18", "--colour", "red"], ["colour"], id="info-unknown-field"),
    pytest.param(["info", "resnet18:colour=red"], ["colour", "not a spec field"], id="info-variant-unknown-field"),
    pytest.param(["info", "resnet18:attention"], ["field=value"], id="info-variant-without-value"),
    pytest.param(["info", "resnet18", "--input-size", "0"], ["--input-size", "0"], id="info-input-size-0"),
    pytest.param(["info", "resnet18", "--input-size", "-3"], ["--input-size", "-3"], id="info-input-size-negative"),
    pytest.param(["info", "tresnet_m", "--input-size", "30"], ["tresnet_m cannot take 30 px", "224"],
                 id="info-input-size-the-model-cannot-take"),
    pytest.param(["diff", "resnet18"], ["two models", "got 1"], id="diff-one-name"),
    pytest.param(["diff"], ["two models", "got 0"], id="diff-no-name"),
    pytest.param(["diff", "resnet18", "resnet34", "resnet50"], ["two models", "got 3"], id="diff-three-names"),
    pytest.param(["diff", "resnet18", "resnet5"], ["unknown model 'resnet5'"], id="diff-unknown-model"),
    pytest.param(["diff", "resnet18", "resnet18:depths=x"], ["depths", "int"], id="diff-bad-override"),
    pytest.param(["zoo", "--bench", "--batch-size", "0"], ["batch_size", "at least 1"], id="zoo-batch-size-0"),
    pytest.param(["zoo", "--bench", "--repeats", "0"], ["repeats", "at least 1"], id="zoo-repeats-0"),
    pytest.param(["zoo", "--bench", "--device", "cuda"], ["cuda", "--device cpu"], id="zoo-cuda-without-gpu",
                 marks=NO_GPU),
])
def test_bad_input_fails_in_one_line(argv, words):
    assert_clean_error(run_cli(argv), 2, *words)


def test_info_and_diff_take_variant_names_with_per_stage_values():
    result = run_cli(["diff", "resnet18", "resnet18:attention=se,se,none,none"])
    assert result.code == 0, result.err
    (row,) = [line for line in result.out.splitlines() if line.startswith("attention")]
    assert row.split()[1:] == ["none", "se,se,none,none"]
    info = run_cli(["info", "resnet18:attention=se,se,none,none", "--depths", "1,1,1,1"])
    assert info.code == 0, info.err
    spec = {line.split()[0]: line.split()[1] for line in info.out.splitlines()[3:] if line.startswith("  ")}
    assert spec["attention"] == "se,se,none,none" and spec["depths"] == "1,1,1,1"


def _a_file(tmp: Path) -> Path:
    (tmp / "taken").write_text("a file")
    return tmp / "taken"


@pytest.mark.parametrize("target, words", [
    pytest.param(lambda tmp: _a_file(tmp) / "zoo.md", ["is a file, not a folder"], id="inside-a-file"),
    pytest.param(lambda tmp: tmp, ["is a folder"], id="a-folder"),
    pytest.param(lambda tmp: Path("/proc/reslab-zoo/zoo.md"), ["cannot write", "/proc/reslab-zoo"], id="unwritable"),
])
def test_zoo_output_that_cannot_be_written_fails_before_the_table_is_made(target, words, tmp_path, monkeypatch):
    import reslab.experiments.evolution

    def no_table(*args, **kwargs):
        raise AssertionError("the table was made although it could not be written")

    monkeypatch.setattr(reslab.experiments.evolution, "evolution_rows", no_table)
    result = run_cli(["zoo", "--output", target(tmp_path)])
    assert_clean_error(result, 2, *words)
    assert_nothing_half_written(tmp_path)


def test_zoo_output_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    from reslab.experiments import evolution

    monkeypatch.setattr(evolution, "MILESTONES", (evolution.Milestone("CIFAR", "resnet20_cifar"),))
    target = tmp_path / "zoo.md"
    target.write_text("the old table")
    fill_disk(monkeypatch, tmp_path, room=5)  # the first bytes land, then the disk is full
    result = run_cli(["zoo", "--output", target])
    monkeypatch.undo()
    assert result.code in (1, 2) and "Traceback" not in result.err, result.err
    assert "no space left on device" in result.message.lower() and str(target) in result.message
    assert target.read_text() == "the old table"
    assert_nothing_half_written(tmp_path)
