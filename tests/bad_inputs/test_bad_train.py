"""`reslab train` and `reslab eval` on bad input: one line naming the problem, before any file is written."""
from __future__ import annotations

import errno
import os
import signal

import pytest
import torch

from harness import (TINY_MODEL, TINY_TRAIN, assert_clean_error, assert_nothing_half_written, run_cli,
                      write_image_folder)


def train_argv(data, out, *extra):
    return ["train", "--data", data, "--output", out, *TINY_MODEL, *TINY_TRAIN, *extra]


NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")

# flags added to a valid tiny run; each must stop it with exit 2 and a line naming these words
CASES = [
    pytest.param(["--loss", "mse"], ["--loss", "'mse'", "ce, bce"], id="loss-unknown"),
    pytest.param(["--amp", "fp32"], ["--amp", "off, bf16, fp16"], id="amp-unknown"),
    pytest.param(["--optimizer", "adam"], ["--optimizer", "adamw"], id="optimizer-typo"),
    pytest.param(["--schedule", "cos"], ["--schedule", "cosine"], id="schedule-typo"),
    pytest.param(["--crop", "random"], ["--crop", "rrc"], id="crop-unknown"),
    pytest.param(["--auto-augment", "randaug"], ["--auto-augment", "randaugment"], id="auto-augment-typo"),
    pytest.param(["--device", "gpu"], ["--device", "cuda:N"], id="device-pattern"),
    pytest.param(["--recipe", "cifr"], ["unknown recipe", "cifar"], id="recipe-typo"),
    pytest.param(["--img-size", "0"], ["--img-size", "at least 1"], id="img-size-zero"),
    pytest.param(["--lr", "-0.1"], ["--lr", "greater than 0"], id="lr-negative"),
    pytest.param(["--lr", "nan"], ["--lr", "greater than 0"], id="lr-nan"),
    pytest.param(["--batch-size", "0"], ["--batch-size", "at least 1"], id="batch-size-zero"),
    pytest.param(["--epochs", "0"], ["epochs", "at least 1"], id="epochs-zero"),
    pytest.param(["--label-smoothing", "1"], ["--label-smoothing", "[0, 1)"], id="label-smoothing-one"),
    pytest.param(["--mixup", "-1"], ["--mixup", "at least 0"], id="mixup-negative"),
    pytest.param(["--accum-steps", "0"], ["--accum-steps", "at least 1"], id="accum-steps-zero"),
    pytest.param(["--accum-steps", "3"], ["--batch-size", "--accum-steps"], id="batch-not-multiple-of-accum"),
    pytest.param(["--workers", "-1"], ["--workers", "at least 0"], id="workers-negative"),
    pytest.param(["--seed", "-3"], ["--seed", "at least 0"], id="seed-negative"),
    pytest.param(["--randaug-magnitude", "31"], ["--randaug-magnitude", "[0, 30]"], id="randaug-magnitude-high"),
    pytest.param(["--ema-decay", "1"], ["--ema-decay", "[0, 1)"], id="ema-decay-one"),
    pytest.param(["--test-crop-pct", "0"], ["--test-crop-pct", "(0, 1]"], id="test-crop-pct-zero"),
    pytest.param(["--cache", "yes"], ["--cache", "'yes'", "auto, off"], id="cache-unknown"),
    pytest.param(["--batch-size", "64"], ["16 training images", "one batch of 64"], id="dataset-smaller-than-batch"),
    pytest.param(["--milestones", "5,10"], ["--milestones", "--epochs 1"], id="milestones-beyond-epochs"),
    pytest.param(["--warmup-epochs", "3"], ["--warmup-epochs", "--epochs 1"], id="warmup-longer-than-run"),
    pytest.param(["--val-subset", "0"], ["--val-subset", "at least 1"], id="val-subset-zero"),
    pytest.param(["--subset", "1000"], ["--subset 1000", "16 images"], id="subset-larger-than-data"),
    pytest.param(["--num-classes", "1"], ["--num-classes 1", "2 classes"], id="num-classes-fewer"),
    pytest.param(["--num-classes", "5"], ["--num-classes 5", "2 classes"], id="num-classes-more"),
    pytest.param(["--freeze", "stage9"], ["stage9", "stage1"], id="freeze-unknown-part"),
    pytest.param(["--weights", "missing.safetensors"], ["missing.safetensors"], id="weights-missing"),
    pytest.param(["--device", "cuda"], ["--device cuda", "no cuda gpu"], id="device-cuda-without-gpu",
                 marks=NO_GPU),
]


@pytest.mark.parametrize("extra, words", CASES)
def test_bad_training_settings_stop_before_anything_is_written(tiny_folder, tmp_path, extra, words):
    run = tmp_path / "run"
    result = run_cli(train_argv(tiny_folder, run, *extra))
    assert_clean_error(result, 2, *words)
    assert not run.exists(), sorted(run.iterdir())
    assert_nothing_half_written(tmp_path)


def test_output_that_is_a_file(tiny_folder, tmp_path):
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me")
    assert_clean_error(run_cli(train_argv(tiny_folder, taken)), 2, "--output", "is a file")
    assert taken.read_text() == "keep me"


def test_read_only_output_folder(tiny_folder, tmp_path, monkeypatch):
    from pathlib import Path

    honest = Path.mkdir

    def read_only(self, *args, **kwargs):  # as on a read-only mount (chmod cannot stop root, who runs CI)
        if tmp_path / "ro" in (self, *self.parents):
            raise PermissionError(errno.EROFS, "Read-only file system", str(self))
        return honest(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    result = run_cli(train_argv(tiny_folder, tmp_path / "ro" / "run"))
    assert_clean_error(result, 2, "cannot write", "--output", "read-only file system")


def test_full_disk_at_the_first_save_leaves_no_half_checkpoint(tiny_folder, tmp_path, monkeypatch):
    import safetensors.torch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # the resumable state's writer (torch.save in older ResLab, safetensors now) meets a full disk
    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(safetensors.torch, "save", full)
    run = tmp_path / "run"
    result = run_cli(train_argv(tiny_folder, run))
    assert_clean_error(result, 1, "no space left on device", "state")
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]  # no weights without their state
    assert_nothing_half_written(tmp_path)


def test_nan_weights_are_never_saved_as_the_last_checkpoint(tiny_folder, tmp_path):
    # lr 1e6: epoch 1 ends with a finite training loss but NaN validation loss; it must not become "last"
    run = tmp_path / "run"
    result = run_cli(train_argv(tiny_folder, run, "--epochs", "2", "--lr", "1e6"))
    assert_clean_error(result, 2, "epoch 1", "nan", "no checkpoint was saved", "--lr")
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]
    assert_nothing_half_written(tmp_path)


def test_sigterm_exits_128_plus_the_signal_after_saving(tiny_folder, tmp_path, monkeypatch):
    from reslab.train import engine

    honest, calls = engine.soft_target_loss, []

    def terminated_at_step_one(logits, targets, kind):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler only asks the loop to stop after this step
        return honest(logits, targets, kind)

    monkeypatch.setattr(engine, "soft_target_loss", terminated_at_step_one)
    run = tmp_path / "run"
    result = run_cli(train_argv(tiny_folder, run, "--epochs", "2"))
    assert result.code == 128 + signal.SIGTERM, (result.code, result.err)
    assert "received SIGTERM" in result.err and "Resume with" in result.out
    assert (run / "state.safetensors").is_file() and (run / "last.safetensors").is_file()


def test_stop_after_steps_still_exits_0(tiny_folder, tmp_path):
    result = run_cli(train_argv(tiny_folder, tmp_path / "run", "--epochs", "2", "--stop-after-steps", "1"))
    assert result.code == 0, result.err


def _corrupt(path):
    path.write_bytes(b"\x89PNG\r\n\x1a\n not an image")


def test_batches_of_only_unreadable_images_are_skipped_and_counted(tmp_path):
    data = write_image_folder(tmp_path / "data", train=2, val=2)
    _corrupt(data / "train" / "dark" / "0.png")
    _corrupt(data / "val" / "light" / "1.png")
    result = run_cli(train_argv(data, tmp_path / "run", "--batch-size", "1"))  # one batch is that one image
    assert result.code == 0, result.err
    assert "1 unreadable validation images skipped" in result.out
    assert [l.split()[-1] for l in result.out.splitlines() if l.startswith("batches skipped")] == ["1"]
    assert [l.split()[-1] for l in result.out.splitlines() if l.startswith("unreadable images")] == ["2"]
    evaluated = run_cli(["eval", "--checkpoint", tmp_path / "run", "--data", data])
    assert evaluated.code == 0, evaluated.err
    assert "3 images" in evaluated.out and "1 unreadable images skipped" in evaluated.out


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One finished tiny run on the two-class folder: (data, run directory)."""
    root = tmp_path_factory.mktemp("trained")
    data = write_image_folder(root / "data")
    result = run_cli(train_argv(data, root / "run"))
    assert result.code == 0, result.err
    return data, root / "run"


def _bare_checkpoint(path, num_classes):
    """A ResLab checkpoint that stores no class names."""
    import reslab

    model = reslab.create_model("resnet20_cifar", num_classes=num_classes, depths=(1, 1, 1))
    reslab.save_weights(model, path)
    return path


EVAL_CASES = [
    pytest.param(lambda data, run, tmp: ["--checkpoint", tmp, "--data", data], ["no checkpoint", "run directory"],
                 id="eval-not-a-run-folder"),
    pytest.param(lambda data, run, tmp: ["--checkpoint", run, "--data", data, "--split", "test"],
                 ["no test split"], id="eval-split-missing"),
    pytest.param(lambda data, run, tmp: ["--checkpoint", run, "--data", data, "--batch-size", "0"],
                 ["--batch-size", "at least 1"], id="eval-batch-size-zero"),
    pytest.param(lambda data, run, tmp: ["--checkpoint", _bare_checkpoint(tmp / "m.safetensors", 3), "--data", data],
                 ["3 outputs", "2 classes", "no class names"], id="eval-more-outputs-than-classes"),
    pytest.param(lambda data, run, tmp: ["--checkpoint", _bare_checkpoint(tmp / "m.safetensors", 1), "--data", data],
                 ["1 outputs", "2 classes", "no class names"], id="eval-fewer-outputs-than-classes"),
]


@pytest.mark.parametrize("make_argv, words", EVAL_CASES)
def test_bad_eval_inputs_get_one_line(trained_run, tmp_path, make_argv, words):
    data, run = trained_run
    result = run_cli(["eval", *make_argv(data, run, tmp_path)])
    assert_clean_error(result, 2, *words)
    assert not list(tmp_path.glob("confusion*")) and not list(run.glob("confusion_test*"))
