"""`reslab pretrain`, few labels, semi-supervised training and kNN evaluation on bad input: one line naming the
problem (and what to do), exit 2, no traceback."""
from __future__ import annotations

import pytest

from harness import TINY_MODEL, TINY_TRAIN, assert_clean_error, run_cli


def pretrain_argv(data, out, *extra):
    return ["pretrain", "--data", data, "--output", out, *TINY_MODEL, *TINY_TRAIN, "--proj-hidden", "8",
            "--proj-dim", "4", *extra]


@pytest.fixture(scope="module")
def pretrain_run(tiny_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("pre") / "run"
    result = run_cli(pretrain_argv(tiny_folder, out))
    assert result.code == 0, result.err
    return out


@pytest.mark.parametrize("extra, words", [
    (["--batch-size", "32"], ["16 images", "fewer than one batch of 32"]),
    (["--method", "mocov2", "--queue-size", "64"], ["--queue-size 64", "more than the 16 images"]),
    (["--method", "mocov2", "--queue-size", "12"], ["--queue-size 12", "multiple of --batch-size 8"]),
    (["--in-chans", "1"], ["simclr", "RGB", "1 channel"]),
    (["--method", "byol", "--batch-size", "1"], ["byol", "at least 2 images"]),
    (["--method", "simclr2"], ["unknown pre-training method", "simclr"]),
    (["--cross-process-bn", "shuffle"],
     ["--cross-process-bn shuffle", "momentum encoder", "nt_xent", "global or local"]),
], ids=["batch-larger-than-data", "queue-larger-than-data", "queue-not-batch-multiple", "grayscale-model-colour-views",
        "batch-of-one", "method-typo", "shuffle-bn-without-momentum-encoder"])
def test_pretrain_refuses(tiny_folder, tmp_path, extra, words):
    assert_clean_error(run_cli(pretrain_argv(tiny_folder, tmp_path / "run", *extra)), 2, *words)


def test_labels_per_class_larger_than_a_class(tiny_folder, tmp_path):
    result = run_cli(["train", "--data", tiny_folder, "--output", tmp_path / "run", *TINY_MODEL, *TINY_TRAIN,
                      "--labels-per-class", "9"])
    assert_clean_error(result, 2, "--labels-per-class 9", "more than the 8", "at most 8")


def test_unlabelled_pool_smaller_than_its_batch(tiny_folder, tmp_path):
    result = run_cli(["train", "--semi", "fixmatch", "--data", tiny_folder, "--output", tmp_path / "run", *TINY_MODEL,
                      *TINY_TRAIN])
    assert_clean_error(result, 2, "unlabelled pool has 16 images", "56")


def test_unlabelled_without_semi(tiny_folder, tmp_path):
    result = run_cli(["train", "--data", tiny_folder, "--unlabelled", tiny_folder, "--output", tmp_path / "run",
                      *TINY_MODEL, *TINY_TRAIN])
    assert_clean_error(result, 2, "--unlabelled", "--semi")


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_pretraining_run_used_as_a_classifier(pretrain_run, tiny_folder, command):
    target = ["--data", tiny_folder] if command == "eval" else [tiny_folder / "val" / "dark" / "0.png"]
    result = run_cli([command, "--checkpoint", pretrain_run, *target])
    assert_clean_error(result, 2, "pre-training run", "no trained classifier", "fine-tune", "linear_probe")


def test_knn_of_a_pretraining_run_works_and_bank_needs_knn(pretrain_run, tiny_folder):
    result = run_cli(["eval", "--knn", "--checkpoint", pretrain_run, "--data", tiny_folder])
    assert result.code == 0 and "kNN top-1" in result.out, result.err
    assert_clean_error(run_cli(["eval", "--checkpoint", pretrain_run, "--bank", tiny_folder]), 2, "--bank", "--knn")


def test_pretraining_an_audio_model_or_on_audio_is_refused_with_the_reason(tiny_folder, tmp_path):
    from audio_tones import write_tone_folder

    crnn = ["pretrain", "--data", tiny_folder, "--output", tmp_path / "a", "--model", "resnet_crnn", *TINY_TRAIN[:2]]
    assert_clean_error(run_cli(crnn), 2, "resnet_crnn takes audio clips", "image views", "reslab train")
    tones = write_tone_folder(tmp_path / "tones")
    assert_clean_error(run_cli(pretrain_argv(tones, tmp_path / "b")), 2, "holds audio clips", "image views",
                       "reslab train")


@pytest.mark.parametrize("flag, value", [("--semi-threshold", "0.7"), ("--semi-mu", "3")])
def test_semi_settings_without_semi(tiny_folder, tmp_path, flag, value):
    result = run_cli(["train", "--data", tiny_folder, flag, value, "--output", tmp_path / "run", *TINY_MODEL,
                      *TINY_TRAIN])
    assert_clean_error(result, 2, flag, "semi-supervised", "--semi fixmatch")
