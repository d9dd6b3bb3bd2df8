"""Bad input to `reslab compare`: runs keyed by every setting, per-stage overrides in --models, one-line errors.

Library imports stay inside the tests so that this file also runs against the code before the fix.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from harness import assert_clean_error, assert_nothing_half_written, run_cli

# TINY_MODEL as a variant name: trains in about a second on the 16 px tiny_folder
TINY = "resnet20_cifar:depths=1,1,1:widths=4,8,16:stem_channels=4"
FAST = ["--seeds", "1", "--batch-size", "8"]


def compare(data, output, *extra, models=TINY, kind=None):
    return run_cli(["compare", "--models", models, "--data", data, "--output", output, *FAST, *extra], kind)


def reported_runs(output: Path) -> list[tuple[str, float, Path]]:
    """(model, top-1 %, run folder) of each row in report.md's per-run table."""
    text = (output / "report.md").read_text()
    rows = [line.strip("|").split("|") for line in text[text.index("## Runs"):].splitlines() if line.startswith("| ")]
    return [(cells[0].strip(), float(cells[2]), Path(cells[4].strip())) for cells in rows[1:]]


def log_rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


# --- 1. a run is reused only when everything that determines it is the same -----------------------------------
def test_changed_epochs_train_again_and_the_report_shows_the_new_run(tiny_folder, tmp_path):
    out = tmp_path / "cmp"
    assert compare(tiny_folder, out, "--epochs", "1").code == 0
    result = compare(tiny_folder, out, "--epochs", "2")
    assert result.code == 0, result.err
    assert "epochs 1 -> 2" in result.out  # the log says why it trains again
    ((model, top1, run),) = reported_runs(out)
    rows = log_rows(run)
    assert model == TINY and len(rows) == 2  # the two-epoch run, not the old one-epoch numbers
    assert top1 == pytest.approx(100 * float(rows[-1]["val_top1"]), abs=0.01)
    assert_nothing_half_written(out)


@pytest.mark.parametrize("change", [
    pytest.param({"epochs": 2}, id="epochs"),
    pytest.param({"recipe": "resnet2015"}, id="recipe"),
    pytest.param({"data": "elsewhere"}, id="data"),
    pytest.param({"train_options": {"batch_size": 4}}, id="batch-size"),
    pytest.param({"train_options": {"batch_size": 8, "subset": 10}}, id="subset"),
    pytest.param({"models": (TINY + ":attention=se",)}, id="override"),
])
def test_every_setting_that_determines_a_run_changes_its_folder(change, tmp_path):
    from reslab.experiments.compare import CompareConfig, run_dir

    base = dict(models=(TINY,), data=str(tmp_path / "data"), epochs=1, seeds=1, output=str(tmp_path),
                train_options={"batch_size": 8})
    changed = CompareConfig(**{**base, **change})
    assert run_dir(CompareConfig(**base), TINY, 0) == run_dir(CompareConfig(**base), TINY, 0)
    assert run_dir(CompareConfig(**base), TINY, 0) != run_dir(changed, changed.models[0], 0)


def test_a_stopped_run_is_resumed_only_with_the_same_settings(tiny_folder, tmp_path):
    from reslab.experiments.compare import CompareConfig, CompareError, compare as run_compare

    def config(epochs, **options):
        return CompareConfig((TINY,), str(tiny_folder), epochs=epochs, seeds=1, output=str(tmp_path),
                             train_options={"batch_size": 8, "workers": 0, **options}, bench_batch_size=2)

    with pytest.raises(CompareError, match="stopped early"):
        run_compare(config(1, stop_after_steps=1), log=lambda m: None)
    said = []
    run_compare(config(2), log=said.append)  # other epochs: the stopped one-epoch run must not be continued
    assert not any("resuming" in m for m in said), said
    assert len(log_rows(reported_runs(tmp_path)[0][2])) == 2

    with pytest.raises(CompareError, match="stopped early"):
        run_compare(config(3, stop_after_steps=1), log=lambda m: None)
    said = []
    run_compare(config(3), log=said.append)  # the same settings: continued
    assert any("resuming" in m for m in said), said
    assert len(log_rows(reported_runs(tmp_path)[0][2])) == 3


# --- 2. per-stage overrides in --models ----------------------------------------------------------------------
@pytest.mark.parametrize("text, models", [
    pytest.param("resnet18:attention=se,se,none,none", ["resnet18:attention=se,se,none,none"], id="per-stage"),
    pytest.param("resnet18:attention=se,se,none,none,resnet34", ["resnet18:attention=se,se,none,none", "resnet34"],
                 id="per-stage-then-model"),
    pytest.param("a_b:depths=2,2,2,resnet20_cifar", ["a_b:depths=2,2,2", "resnet20_cifar"], id="tuple-then-model"),
    pytest.param("resnet18:attention=se,eca,se,eca:depths=1,1,1,1,resnet18:block=basic",
                 ["resnet18:attention=se,eca,se,eca:depths=1,1,1,1", "resnet18:block=basic"], id="two-overrides"),
    pytest.param("resnet20_cifar,resnet32_cifar", ["resnet20_cifar", "resnet32_cifar"], id="plain-list"),
    pytest.param(" , resnet20_cifar,,", ["resnet20_cifar"], id="blanks"),
])
def test_models_split_at_commas_that_start_a_model(text, models):
    from reslab.variant import split_models

    assert split_models(text) == models


def test_compare_trains_a_per_stage_variant_named_in_models(tiny_folder, tmp_path):
    model = TINY + ":attention=se,se,none"
    result = compare(tiny_folder, tmp_path, "--epochs", "1", models=model)
    assert result.code == 0, result.err
    assert [m for m, _, _ in reported_runs(tmp_path)] == [model]
    spec = json.loads((reported_runs(tmp_path)[0][2] / "config.json").read_text())["spec"]
    assert spec["attention"] == ["se", "se", "none"]
    assert "value may itself be comma-separated" in " ".join(run_cli(["compare", "--help"]).out.split())


# --- 3. bad input fails in one line, before any training -----------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    pytest.param(["--models", "resnet5"], ["unknown model 'resnet5'", "resnet50"], id="unknown-model"),
    pytest.param(["--models", "resnet18:attention"], ["attention", "field=value"], id="override-without-value"),
    pytest.param(["--models", "resnet18:colour=red"], ["colour", "not a spec field"], id="unknown-field"),
    pytest.param(["--models", "resnet18:atention=se"], ["atention", "did you mean attention"], id="field-typo"),
    pytest.param(["--models", "resnet18:depths=x"], ["depths", "int"], id="bad-value"),
    pytest.param(["--models", "resnet18:attention=se,sse,none,none"], ["sse"], id="per-stage-typo"),
    pytest.param(["--models", "resnet18:depths=1,1,1,1:depths=2,2,2,2"], ["depths is given twice"],
                 id="field-twice"),
    pytest.param(["--models", ":depths=1,1,1"], ["model name"], id="no-model-name"),
    pytest.param(["--models", ""], ["at least one model"], id="no-models"),
    pytest.param(["--models", "resnet20_cifar,resnet20_cifar"], ["named twice"], id="duplicate-model"),
    pytest.param(["--models", "resnet20_cifar,resnet20_cifar:depths=3,3,3"], ["same model as resnet20_cifar"],
                 id="same-model-two-names"),
    pytest.param(["--seeds", "0"], ["seeds"], id="seeds-0"),
    pytest.param(["--epochs", "0"], ["epochs"], id="epochs-0"),
    pytest.param(["--batch-size", "0"], ["batch-size"], id="batch-size-0"),
    pytest.param(["--subset", "0"], ["subset"], id="subset-0"),
    pytest.param(["--recipe", "cifarr"], ["recipe", "cifarr"], id="unknown-recipe"),
])
def test_bad_settings_fail_in_one_line_before_training(argv, words, tiny_folder, tmp_path):
    result = compare(tiny_folder, tmp_path / "cmp", "--epochs", "1", *argv)
    assert_clean_error(result, 2, *words)
    assert not (tmp_path / "cmp" / "runs").exists()  # nothing was trained


def _a_file(tmp_path: Path) -> Path:
    (tmp_path / "taken").write_text("a file, not a folder")
    return tmp_path / "taken"


@pytest.mark.parametrize("output, words", [
    pytest.param(_a_file, ["is a file, not a folder"], id="output-is-a-file"),
    pytest.param(lambda tmp: _a_file(tmp) / "cmp", ["is a file, not a folder"], id="output-inside-a-file"),
    pytest.param(lambda tmp: Path("/proc/reslab-compare"), ["cannot write", "/proc/reslab-compare"],
                 id="output-unwritable"),
])
def test_an_output_that_cannot_be_written_fails_before_training(output, words, tiny_folder, tmp_path):
    result = compare(tiny_folder, output(tmp_path), "--epochs", "1")
    assert_clean_error(result, 2, *words)
    if (tmp_path / "taken").exists():
        assert (tmp_path / "taken").read_text() == "a file, not a folder"
    assert_nothing_half_written(tmp_path)


# --- 3. a damaged finished run: which run, and what to do ----------------------------------------------------
@pytest.fixture(scope="module")
def finished(tiny_folder, tmp_path_factory) -> Path:
    """A finished one-epoch comparison (do not modify: copy it)."""
    out = tmp_path_factory.mktemp("finished") / "cmp"
    assert compare(tiny_folder, out, "--epochs", "1").code == 0
    return out


def _one(out: Path, name: str) -> Path:
    (path,) = out.glob(f"runs/**/{name}")
    return path


@pytest.mark.parametrize("file, content, words", [
    pytest.param("compare.json", "{not json", ["compare.json", "corrupt", "delete"], id="done-file-corrupt"),
    pytest.param("compare.json", "[1, 2]", ["compare.json", "not a JSON object", "delete"], id="done-file-not-object"),
    pytest.param("compare.json", '{"seed": 0}', ["compare.json", "wall time", "delete"], id="done-file-no-wall-time"),
    pytest.param("compare.json", b"\xff\xfe\x00", ["compare.json", "corrupt", "delete"], id="done-file-binary"),
    pytest.param("metrics.csv", "", ["metrics.csv", "val_top1", "delete"], id="log-empty"),
    pytest.param("metrics.csv", "epoch,val_top1\n1,abc\n", ["metrics.csv", "not a number", "delete"],
                 id="log-not-a-number"),
    pytest.param("metrics.csv", "epoch,train_loss\n1,0.5\n", ["metrics.csv", "val_top1", "delete"],
                 id="log-no-accuracy"),
    pytest.param("metrics.csv", None, ["metrics.csv", "missing", "delete"], id="log-missing"),
    pytest.param("last.safetensors", None, ["last.safetensors", "missing", "delete"], id="weights-missing"),
    pytest.param("last.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{broken", ["last.safetensors", "damaged",
                 "delete"], id="weights-damaged"),
    pytest.param("settings.json", "{", ["settings.json", "corrupt", "delete"], id="settings-corrupt"),
    pytest.param("settings.json", '{"epochs": 7}', ["other settings", "epochs 7 -> 1", "delete"],
                 id="settings-tampered"),
])
def test_a_damaged_finished_run_is_named_with_what_to_do(file, content, words, finished, tiny_folder, tmp_path):
    out = tmp_path / "cmp"
    shutil.copytree(finished, out)
    damaged = _one(out, file)
    if content is None:
        damaged.unlink()
    elif isinstance(content, bytes):
        damaged.write_bytes(content)
    else:
        damaged.write_text(content)
    report = (out / "report.md").read_text()
    result = compare(tiny_folder, out, "--epochs", "1")
    assert_clean_error(result, 2, *words)
    assert str(damaged.parent) in result.message  # which run
    assert (out / "report.md").read_text() == report  # the last good report stays
