"""A run folder is never replaced without being asked, a failed run changes nothing, and a resume tells the truth
(issue 28): each case failed before its fix."""
from __future__ import annotations

import csv

import pytest
from safetensors.torch import load_file

from harness import TINY_MODEL, TINY_TRAIN, assert_clean_error, run_cli


def train_argv(data, out, *extra):
    return ["train", "--data", data, "--output", out, *TINY_MODEL, *TINY_TRAIN, *extra]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def rows(run):
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def finished_run(tiny_folder, tmp_path):
    run = tmp_path / "run"
    assert run_cli(train_argv(tiny_folder, run, "--epochs", "2")).code == 0
    return run


def test_a_finished_run_is_not_replaced_by_a_new_one(tiny_folder, finished_run):
    before = snapshot(finished_run)
    result = run_cli(train_argv(tiny_folder, finished_run))
    assert_clean_error(result, 2, "already holds a training run", "2 epochs logged", "--resume", "--overwrite",
                       "nothing there was changed")
    assert snapshot(finished_run) == before


def test_a_folder_of_user_files_is_refused_and_kept(tiny_folder, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    (mine / "metrics.csv").write_text("my,own\n1,2\n")
    result = run_cli(train_argv(tiny_folder, mine))
    assert_clean_error(result, 2, "ResLab did not write", "thesis.tex", "--overwrite")
    assert (mine / "metrics.csv").read_text() == "my,own\n1,2\n" and not (mine / "config.json").exists()


def test_pretraining_into_a_finished_supervised_run_is_refused(tiny_folder, finished_run):
    before = snapshot(finished_run)
    result = run_cli(["pretrain", "--data", tiny_folder, "--output", finished_run, "--method", "simsiam",
                      *TINY_MODEL, "--epochs", "1", "--batch-size", "8", "--no-tensorboard", "--no-progress"])
    assert_clean_error(result, 2, "already holds a training run", "--overwrite")
    assert snapshot(finished_run) == before


def test_overwrite_that_fails_before_its_first_checkpoint_changes_nothing(tiny_folder, finished_run):
    # lr 1e6 makes epoch 1's validation loss NaN: the new run fails before it saves anything
    before = snapshot(finished_run)
    result = run_cli(train_argv(tiny_folder, finished_run, "--overwrite", "--lr", "1e6", "--epochs", "2"))
    assert_clean_error(result, 2, "nan")
    assert snapshot(finished_run) == before
    resumed = run_cli(["train", "--resume", finished_run])  # the old run is whole: it resumes (already finished)
    assert resumed.code == 0 and "already finished its 2 epochs" in resumed.out, resumed.err


def test_overwrite_replaces_the_run_and_keeps_other_files(tiny_folder, finished_run):
    (finished_run / "notes.txt").write_text("mine")
    assert run_cli(train_argv(tiny_folder, finished_run, "--overwrite", "--epochs", "1", "--seed", "3")).code == 0
    assert (finished_run / "notes.txt").read_text() == "mine"
    assert len(rows(finished_run)) == 1 and '"seed": 3' in (finished_run / "config.json").read_text()


def test_resuming_a_stopped_run_does_not_stop_again(tiny_folder, tmp_path):
    # 16 images, batch 8: 2 steps per epoch; stopped after step 1, the resume must run to the end
    run = tmp_path / "run"
    assert run_cli(train_argv(tiny_folder, run, "--epochs", "3", "--stop-after-steps", "1")).code == 0
    result = run_cli(["train", "--resume", run])
    assert result.code == 0 and "stopped at step" not in result.out, result.out
    assert [r["epoch"] for r in rows(run)] == ["1", "2", "3"]


@pytest.mark.parametrize("stop", [1, 2], ids=["mid-epoch", "at-the-epochs-last-step"])
def test_a_resumed_epoch_logs_the_loss_and_accuracy_of_all_its_batches(tiny_folder, tmp_path, stop):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert run_cli(train_argv(tiny_folder, whole, "--epochs", "2", "--deterministic")).code == 0
    assert run_cli(train_argv(tiny_folder, cut, "--epochs", "2", "--deterministic",
                              "--stop-after-steps", str(stop))).code == 0
    assert run_cli(["train", "--resume", cut]).code == 0
    for a, b in zip(rows(whole), rows(cut), strict=True):
        for column in ("train_loss", "train_acc", "val_top1"):
            assert float(b[column]) == pytest.approx(float(a[column]), rel=1e-5), (column, a, b)
    assert float(rows(cut)[0]["train_acc"]) > 0


def test_a_log_cut_mid_line_by_a_kill_is_repaired_on_resume_without_losing_rows(tiny_folder, tmp_path):
    run = tmp_path / "run"
    assert run_cli(train_argv(tiny_folder, run, "--epochs", "3", "--stop-after-steps", "4")).code == 0
    log = run / "metrics.csv"
    kept = log.read_text()
    log.write_text(kept + "3,0.69")  # an older ResLab appended rows: a kill mid-write left half a row
    result = run_cli(["train", "--resume", run])
    assert result.code == 0, result.err
    assert "cut short or damaged" in result.out
    assert [r["epoch"] for r in rows(run)] == ["1", "2", "3"]
    assert log.read_text().startswith(kept)  # the two earlier rows are byte for byte what they were


def test_a_lost_last_row_is_rebuilt_from_the_checkpoint(tiny_folder, tmp_path):
    run = tmp_path / "run"
    assert run_cli(train_argv(tiny_folder, run, "--epochs", "3", "--stop-after-steps", "3")).code == 0
    full = rows(run)  # epoch 1 only: the stop came inside epoch 2
    assert len(full) == 1
    lines = (run / "metrics.csv").read_text().splitlines()
    (run / "metrics.csv").write_text("\n".join(lines[:-1]) + "\n")  # killed after the save, before the log row
    result = run_cli(["train", "--resume", run])
    assert result.code == 0 and "rebuilt it from the checkpoint" in result.out, result.out
    assert rows(run)[:1] == full and len(rows(run)) == 3
    assert load_file(run / "last.safetensors")  # the run finished and saved
