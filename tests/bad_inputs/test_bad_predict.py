"""`reslab predict` on good and bad input: correct answers on a toy set whose answer is known, the same tensors as
`reslab eval`, bad files skipped and named, bad options one line, the --output file never half-written."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness import TINY_MODEL, TINY_TRAIN, assert_clean_error, assert_nothing_half_written, run_cli


@pytest.fixture(scope="module")
def run(tiny_folder, tmp_path_factory) -> Path:
    """Weights of a tiny model trained on dark vs light: 3 epochs at lr 0.2 reach 100% (the first test checks)."""
    out = tmp_path_factory.mktemp("predict") / "run"
    result = run_cli(["train", "--data", tiny_folder, *TINY_MODEL, *TINY_TRAIN, "--epochs", "3", "--lr", "0.2",
                      "--output", out])
    assert result.code == 0, result.err
    return out / "last.safetensors"


def _good_image(path: Path, brightness: int = 40, size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), brightness, np.uint8)).save(path)
    return path


def test_cli_predictions_are_the_true_classes_and_agree_with_eval_and_the_api(run, tiny_folder, tmp_path):
    """The CLI's answers are the class folders, its probabilities give eval's loss, and the API says the same."""
    import reslab

    evaluation = run_cli(["eval", "--checkpoint", run, "--data", tiny_folder, "--json"])
    assert evaluation.code == 0, evaluation.err
    metrics = json.loads(evaluation.out)
    assert metrics["top1"] == 1.0
    val = tiny_folder / "val"
    truth = {str(p): p.parent.name for p in sorted(val.rglob("*.png"))}
    result = run_cli(["predict", val, "--checkpoint", run, "--output", tmp_path / "p.json"])
    assert result.code == 0, result.err
    printed = dict(line.split(": ", 1) for line in result.out.splitlines() if line.startswith(str(val)))
    assert {f: p.split(" ")[0] for f, p in printed.items()} == truth
    probs = {d["file"]: {p["class"]: p["probability"] for p in d["predictions"]}
             for d in json.loads((tmp_path / "p.json").read_text())}
    assert {f: max(p, key=p.get) for f, p in probs.items()} == truth
    # eval's loss is the mean -log p(true class): the same numbers only if both prepare images alike
    assert np.mean([-np.log(probs[f][c]) for f, c in truth.items()]) == pytest.approx(metrics["loss"], rel=1e-4)
    # a run folder, as `reslab eval` takes it
    assert run_cli(["predict", val, "--checkpoint", run.parent, "--output", tmp_path / "p.csv"]).code == 0
    with open(tmp_path / "p.csv") as fh:
        assert {r["file"]: r["class"] for r in csv.DictReader(fh) if r["rank"] == "1"} == truth
    api = reslab.Predictor(run).predict(list(truth), topk=1)
    assert [p[0][0] for p in api] == list(truth.values())
    assert [p[0][1] for p in api] == pytest.approx([probs[f][c] for f, c in truth.items()], abs=1e-6)


def test_predict_prepares_an_image_exactly_as_eval_does(tmp_path):
    """resnetaa50d's crop_pct 0.95: 224 / 0.95 = 235.8, which the old predict path truncated to 235, eval rounds
    to 236 (and predict resized with PIL, eval with torchvision)."""
    import reslab
    from reslab.data import Augmented, open_splits
    from reslab.data.transforms import eval_transform
    from reslab.registry import get_preset

    pre = get_preset("resnetaa50d").preprocessing
    model = reslab.create_model("resnet20_cifar", num_classes=2, depths=(1, 1, 1), widths=(4, 8, 16),
                                stem_channels=4)
    model.preprocessing = pre
    checkpoint = reslab.save_weights(model, tmp_path / "m.safetensors", classes=["a", "b"])
    pixels = (np.random.default_rng(0).random((260, 300, 3)) * 255).astype(np.uint8)
    for name in ("a", "b"):
        Image.fromarray(pixels).save(_good_image(tmp_path / "data" / "val" / name / "x.png"))
    val = open_splits(str(tmp_path / "data"), ("val",))["val"]
    through_eval, _, _ = Augmented(val, eval_transform(pre, pre.input_size), seed=0)[(0, 0)]
    through_predict = reslab.Predictor(checkpoint).prepare(tmp_path / "data" / "val" / "a" / "x.png")
    assert through_predict.shape == through_eval.shape == (3, 224, 224)
    assert (through_predict - through_eval).abs().max().item() == 0


def test_a_decompression_bomb_is_skipped_and_its_batch_still_predicted(run, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # 16 x 16 = 256 fits, 32 x 32 is over twice the limit
    folder = tmp_path / "images"
    _good_image(folder / "a.png")
    _good_image(folder / "bomb.png", size=32)
    _good_image(folder / "c.png", brightness=210)
    result = run_cli(["predict", folder, "--checkpoint", run, "--batch-size", "3", "--topk", "1"])
    assert "Traceback" not in result.err and result.code == 1, result.err
    assert "skipped" in result.err and "bomb.png" in result.err and "exceeds limit" in result.err
    assert "a.png: dark" in result.out and "c.png: light" in result.out and "1 of 3 file(s)" in result.err


def test_a_batch_of_only_unreadable_images_is_skipped_and_the_next_predicted(run, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"not a jpeg")
    (folder / "b.png").write_bytes(b"")
    _good_image(folder / "c.png", brightness=210)
    result = run_cli(["predict", folder, "--checkpoint", run, "--batch-size", "2", "--topk", "1"])
    assert "Traceback" not in result.err and result.code == 1, result.err
    assert "c.png: light" in result.out and "2 of 3 file(s)" in result.err


def _setup(kind: str, tmp: Path, run: Path) -> list:
    """The arguments after `predict` for one kind of bad input, building the files it needs under `tmp`."""
    good = str(_good_image(tmp / "good" / "a.png"))
    checkpoint = ["--checkpoint", run]
    if kind == "missing-file":
        return [tmp / "nope.png", *checkpoint]
    if kind.startswith("empty-folder"):
        (tmp / "empty").mkdir()
        (tmp / "empty" / "notes.txt").write_text("no images here")
        return [tmp / "empty", *checkpoint] if kind == "empty-folder" else [good, tmp / "empty", *checkpoint]
    if kind == "only-non-images":
        (tmp / "notes.jpg").write_text("a text file named like a photo")
        return [tmp / "notes.jpg", *checkpoint]
    if kind == "symlink-loop":
        _good_image(tmp / "loop" / "a.png")
        (tmp / "loop" / "again").symlink_to(tmp / "loop")
        return [tmp / "loop", *checkpoint]
    if kind == "checkpoint-missing":
        return [good, "--checkpoint", tmp / "nowhere.safetensors"]
    if kind == "checkpoint-garbage":
        (tmp / "junk.safetensors").write_bytes(b"\x00" * 64)
        return [good, "--checkpoint", tmp / "junk.safetensors"]
    if kind == "checkpoint-without-metadata":
        from safetensors.torch import save_file
        import torch

        save_file({"fc.weight": torch.zeros(2, 2)}, str(tmp / "plain.safetensors"))
        return [good, "--checkpoint", tmp / "plain.safetensors"]
    if kind == "output-in-a-file":
        (tmp / "taken").write_text("a file, not a folder")
        return [good, *checkpoint, "--output", tmp / "taken" / "p.csv"]
    if kind == "output-is-a-folder":
        (tmp / "out.csv").mkdir()
        return [good, *checkpoint, "--output", tmp / "out.csv"]
    flags = {"topk-0": ["--topk", "0"], "batch-size-0": ["--batch-size", "0"], "output-txt": ["--output", "p.txt"],
             "device-unknown": ["--device", "gpu0"], "device-cuda-absent": ["--device", "cuda"]}
    return [good, *checkpoint, *flags[kind]]


@pytest.mark.parametrize("kind,words", [
    pytest.param("missing-file", ["no such file", "nope.png"], id="missing-file"),
    pytest.param("empty-folder", ["no images", "empty"], id="folder-without-images"),
    pytest.param("empty-folder-beside-an-image", ["no images", "empty"], id="folder-without-images-beside-one"),
    pytest.param("only-non-images", ["none of the 1 file(s)"], id="only-non-images"),
    pytest.param("symlink-loop", ["same folder", "symlink loop"], id="symlink-loop-in-input"),
    pytest.param("checkpoint-missing", ["no checkpoint", "nowhere.safetensors"], id="checkpoint-missing"),
    pytest.param("checkpoint-garbage", ["junk.safetensors", "not a"], id="checkpoint-garbage"),
    pytest.param("checkpoint-without-metadata", ["no ResLab metadata"], id="checkpoint-not-reslab"),
    pytest.param("topk-0", ["--topk must be at least 1"], id="topk-0"),
    pytest.param("batch-size-0", ["--batch-size must be at least 1"], id="batch-size-0"),
    pytest.param("output-txt", ["name it .csv or .json"], id="output-wrong-suffix"),
    pytest.param("output-in-a-file", ["is a file, not a folder"], id="output-under-a-file"),
    pytest.param("output-is-a-folder", ["is a folder"], id="output-is-a-folder"),
    pytest.param("device-unknown", ["--device gpu0", "not a device"], id="device-unknown"),
    pytest.param("device-cuda-absent", ["no CUDA GPU"], id="device-cuda-absent"),
])
def test_bad_predict_input_is_one_clear_line(run, tmp_path, kind, words):
    import torch

    if kind == "device-cuda-absent" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    result = run_cli(["predict", *_setup(kind, tmp_path, run)], kind=kind)
    assert_clean_error(result, 2, *words)
    assert_nothing_half_written(tmp_path)


@pytest.mark.parametrize("kind,make,words", [
    pytest.param("zero-byte", lambda p: p.write_bytes(b""), "cannot decode", id="zero-byte-image"),
    pytest.param("truncated-png", lambda p: p.write_bytes(p.read_bytes()[:60]), "cannot decode",
                 id="truncated-png"),
    pytest.param("text-as-png", lambda p: p.write_text("hello"), "cannot decode", id="text-named-png"),
])
def test_an_unreadable_file_is_skipped_named_and_counted(run, tmp_path, kind, make, words):
    _good_image(tmp_path / "a.png")
    bad = _good_image(tmp_path / "bad.png", size=64)
    make(bad)
    out = tmp_path / "out" / "p.json"
    result = run_cli(["predict", tmp_path / "a.png", bad, "--checkpoint", run, "--output", out], kind=kind)
    assert "Traceback" not in result.err and result.code == 1, result.err
    assert f"skipped {bad}: {words}" in result.err and "1 of 2 file(s) could not be read" in result.err
    assert [d["file"] for d in json.loads(out.read_text())] == [str(tmp_path / "a.png")]
    assert_nothing_half_written(tmp_path / "out")


def test_output_is_written_atomically_and_a_failed_write_keeps_the_old_file(run, tmp_path, monkeypatch):
    import reslab.deploy.predict

    good = _good_image(tmp_path / "a.png")
    out = tmp_path / "p.csv"
    out.write_text("the previous predictions\n")

    def crash(tmp, rows):
        Path(tmp).write_text("half")
        raise OSError(28, "No space left on device", tmp)

    monkeypatch.setattr(reslab.deploy.predict, "_write_csv", crash)
    result = run_cli(["predict", good, "--checkpoint", run, "--output", out], kind="output-disk-full")
    assert_clean_error(result, 1, "no space left on device")
    assert out.read_text() == "the previous predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "p.csv"]


# --- --model beside a checkpoint: it may name a foreign file's architecture, never contradict the checkpoint ----
TINY_VARIANT = "resnet20_cifar:depths=1,1,1:widths=4,8,16:stem_channels=4"  # the run's network, but 10 classes


def _command(command: str, run: Path, tiny_folder: Path, tmp_path: Path) -> list:
    return (["predict", tiny_folder / "val" / "dark" / "0.png", "--checkpoint", run, "--topk", "1"]
            if command == "predict" else ["eval", "--checkpoint", run, "--data", tiny_folder,
                                          "--confusion", tmp_path / "c.png"])


@pytest.mark.parametrize("model, words", [
    pytest.param(TINY_VARIANT, ["is a resnet20_cifar with 2 classes", "num_classes=10 where it has 2",
                                "drop --model", "matching one"], id="other-number-of-classes"),
    pytest.param("resnet50", ["is a resnet20_cifar with 2 classes", "block=bottleneck where it has basic",
                              "drop --model"], id="other-architecture"),
])
@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_model_contradicting_the_checkpoint_is_refused_not_given_a_random_head(run, tiny_folder, tmp_path,
                                                                                 command, model, words):
    result = run_cli([*_command(command, run, tiny_folder, tmp_path), "--model", model])
    assert_clean_error(result, 2, *words)
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_foreign_checkpoints_classifier_is_never_replaced_by_a_random_one(run, tiny_folder, tmp_path, command):
    """Without metadata --model names the architecture; a classifier for other classes is refused, said how."""
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(str(run)), tmp_path / "plain.pth")
    result = run_cli([*_command(command, tmp_path / "plain.pth", tiny_folder, tmp_path), "--model", TINY_VARIANT])
    assert_clean_error(result, 2, "plain.pth", "fc.weight", "its classifier has 2 classes",
                       "add :num_classes=2 to --model")


def test_a_model_matching_the_checkpoint_gives_its_own_answers_and_class_names(run, tiny_folder, tmp_path):
    argv = _command("predict", run, tiny_folder, tmp_path)
    alone = run_cli(argv)
    named = run_cli([*argv, "--model", f"{TINY_VARIANT}:num_classes=2:input_size=16:drop_rate=0.5"])
    assert alone.code == named.code == 0, named.err
    assert named.out == alone.out and ": dark (" in named.out


# --- only regular files are read: a FIFO named like an image would block its reader for ever (fifo: conftest) --
def test_a_fifo_named_like_an_image_is_skipped_and_named_not_read(run, tmp_path, fifo):
    folder = tmp_path / "images"
    fifo(folder / "a.png")
    _good_image(folder / "b.png", brightness=210)
    result = run_cli(["predict", folder, "--checkpoint", run, "--topk", "1"])
    assert "Traceback" not in result.err and result.code == 1, result.err
    assert f"skipped {folder / 'a.png'}: a named pipe (FIFO), not a regular file" in result.err
    assert "b.png: light" in result.out and "1 of 2 file(s) could not be read" in result.err
    assert not fifo.released


def test_a_fifo_alone_is_the_none_could_be_read_error(run, tmp_path, fifo):
    result = run_cli(["predict", fifo(tmp_path / "a.png"), "--checkpoint", run])
    assert_clean_error(result, 2, "none of the 1 file(s) could be read")
    assert "named pipe" in result.err and not fifo.released


def test_eval_skips_a_fifo_in_its_dataset_as_unreadable(run, tiny_folder, tmp_path, fifo):
    import shutil

    data = Path(shutil.copytree(tiny_folder, tmp_path / "data"))
    fifo(data / "val" / "dark" / "fifo.png")
    result = run_cli(["eval", "--checkpoint", run, "--data", data, "--confusion", tmp_path / "c.png"])
    assert result.code == 0, result.err
    assert "8 images" in result.out and "(1 unreadable images skipped)" in result.out
    assert not fifo.released  # nobody was left waiting on the pipe
