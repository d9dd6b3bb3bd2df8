"""`reslab train --resume` on bad run directories: one line, no code run from the files, nothing overwritten."""
from __future__ import annotations

import json
import pickle
import shutil

import pytest

from harness import TINY_MODEL, TINY_TRAIN, assert_clean_error, assert_nothing_half_written, run_cli


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_folder):
    """A finished one-epoch tiny run; tests copy it before changing it."""
    run = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli(["train", "--data", tiny_folder, "--output", run, *TINY_MODEL, *TINY_TRAIN])
    assert result.code == 0, result.err
    return run


def _copy(run, tmp_path):
    return shutil.copytree(run, tmp_path / "run")


class _RunsCode:
    """Unpickling this creates the file named in it: proof that a pickle was opened."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def legacy_run(run, tmp):
    for name in ("state.safetensors", "state.pt"):
        (run / name).unlink(missing_ok=True)
    (run / "state.pt").write_bytes(pickle.dumps({"epoch": _RunsCode(tmp / "pwned")}))


def truncate_state(run, tmp):
    state = run / "state.safetensors"
    state.write_bytes(state.read_bytes()[:100])


# (how to break a copy of a finished run, extra flags, words the error names)
CASES = [
    pytest.param(lambda run, tmp: shutil.rmtree(run), [], ["not a folder"], id="resume-missing-dir"),
    pytest.param(lambda run, tmp: [p.unlink() for p in run.iterdir() if p.is_file()], [], ["no config.json"],
                 id="resume-empty-dir"),
    pytest.param(lambda run, tmp: (run / "config.json").write_text("{broken"), [], ["config.json", "not valid JSON"],
                 id="resume-config-not-json"),
    pytest.param(lambda run, tmp: (run / "config.json").write_text("[1, 2]"), [], ["config.json", "JSON object"],
                 id="resume-config-not-object"),
    pytest.param(lambda run, tmp: (run / "config.json").write_text(json.dumps(
        {**json.loads((run / "config.json").read_text()), "epochs": "5"})), [], ["config.json", "--epochs", "int"],
                 id="resume-config-wrong-type"),
    pytest.param(lambda run, tmp: (run / "config.json").write_text(json.dumps(
        {**json.loads((run / "config.json").read_text()), "loss": "mse"})), [], ["config.json", "--loss"],
                 id="resume-config-bad-value"),
    pytest.param(lambda run, tmp: (run / "state.safetensors").unlink(), ["--epochs", "2"],
                 ["no state.safetensors"], id="resume-without-state"),
    pytest.param(truncate_state, ["--epochs", "2"], ["damaged", "--weights"], id="resume-truncated-state"),
    pytest.param(legacy_run, ["--epochs", "2"], ["state.pt", "could run code", "--weights"],
                 id="resume-legacy-pickle-state"),
    pytest.param(lambda run, tmp: None, ["--lr", "0.5"], ["cannot change --lr", "--weights"],
                 id="resume-changes-lr"),
    pytest.param(lambda run, tmp: None, ["--depths", "2,2,2"], ["cannot change --spec"],
                 id="resume-changes-model-spec"),
    pytest.param(lambda run, tmp: None, ["--output", "elsewhere"], ["cannot change --output"],
                 id="resume-into-another-output"),
    pytest.param(lambda run, tmp: None, ["--epochs", "2", "--loss", "mse"], ["--loss"], id="resume-bad-setting"),
]


@pytest.mark.parametrize("damage, extra, words", CASES)
def test_bad_run_directories_get_one_line(finished_run, tmp_path, damage, extra, words):
    run = _copy(finished_run, tmp_path)
    damage(run, tmp_path)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} if run.is_dir() else {}
    result = run_cli(["train", "--resume", run, "--no-progress", *extra])
    assert_clean_error(result, 2, *words)
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert not (tmp_path / "pwned").exists()  # the pickle was never opened
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} if run.is_dir() else {}
    assert after == before
    assert_nothing_half_written(tmp_path)


def test_resuming_a_finished_run_says_so_with_its_accuracy(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    result = run_cli(["train", "--resume", run, "--no-progress"])
    assert result.code == 0, result.err
    assert "already finished its 1 epochs" in result.out and "validation accuracy" in result.out
    assert "nan" not in result.out


def test_resume_with_more_epochs_extends_the_run_and_says_so(finished_run, tmp_path):
    from safetensors import safe_open

    run = _copy(finished_run, tmp_path)
    result = run_cli(["train", "--resume", run, "--epochs", "2", "--no-progress"])
    assert result.code == 0, result.err
    assert "now 2 epochs, was 1" in result.out and "epoch 2:" in result.out
    # the 1-epoch run's lr steps (the cifar recipe rescaled: after epoch 1) are kept, and said to be
    assert "the lr steps stay where the run put them, x0.1 after epochs 1, 1" in result.out
    assert json.loads((run / "config.json").read_text())["epochs"] == 1  # the saved recipe is not rewritten
    with safe_open(str(run / "last.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["reslab"])["epoch"] == 2
    assert (run / "metrics.csv").read_text().count("\n") == 3  # header + epochs 1 and 2


def test_a_resume_that_changed_epochs_is_remembered_by_the_next_resume_from_the_checkpoint(tiny_folder, tmp_path):
    out = tmp_path / "run"
    assert run_cli(["train", *TINY_MODEL, *TINY_TRAIN, "--data", str(tiny_folder), "--output", str(out)]).code == 0
    assert run_cli(["train", "--resume", str(out), "--epochs", "2", "--no-progress"]).code == 0
    again = run_cli(["train", "--resume", str(out), "--no-progress"])
    assert again.code == 0 and "already finished its 2 epochs" in again.out
