"""Audio end to end through the CLI, on pure tones written in the test (a task with a known answer): a folder
of .wav files trains with no extra flag, the features travel with the checkpoint, `reslab predict clip.wav`
names the class from the very features `reslab eval` scores, an image model reads the spectrogram as a
one-channel image, and the CRNN run exports to ONNX."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from audio_tones import TONES, one_thread, write_tone_folder  # noqa: F401 (one_thread: autouse)
from reslab.cli import main
from reslab.weights.rundir import find_weights

TINY_CRNN = ["--model", "resnet_crnn", "--stem-channels", "4", "--stage-channels", "4,8", "--depths", "1,1",
             "--freq-strides", "2,2", "--time-strides", "1,2", "--rnn-hidden", "8"]
# adamw at a high rate: 18 steps on 12 clips (a tone a class apart is learnt in a few)
FAST = ["--epochs", "6", "--batch-size", "4", "--optimizer", "adamw", "--lr", "0.03", "--lr-batch", "4",
        "--schedule", "cosine", "--workers", "0", "--no-progress", "--no-tensorboard"]


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    return write_tone_folder(tmp_path_factory.mktemp("tones") / "data")


@pytest.fixture(scope="module")
def crnn_run(tones, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "crnn"
    assert main(["train", *TINY_CRNN, "--data", str(tones), *FAST, "--output", str(run)]) == 0
    return run


def test_a_tiny_crnn_learns_which_tone_is_which(crnn_run, tones, capsys):
    from reslab.train.evaluate import evaluate_checkpoint

    assert evaluate_checkpoint(crnn_run, str(tones)).top1 == 1.0
    clips = sorted((tones / "val").glob("*/*.wav"))
    assert main(["predict", str(tones / "val"), "--checkpoint", str(crnn_run), "--topk", "1"]) == 0  # a folder
    lines = capsys.readouterr().out.splitlines()
    for clip in clips:  # "<path>: high (0.93)": the class named by the clip's folder
        line = next(l for l in lines if l.startswith(f"{clip}:"))
        assert line.split(": ")[1].split(" (")[0] == clip.parent.name


def test_predict_sees_exactly_the_features_eval_scores(crnn_run, tones):
    from reslab.data import Augmented, open_splits
    from reslab.data.transforms import eval_transform
    from reslab.deploy.predict import Predictor
    from reslab.weights import load_model

    model = load_model(find_weights(crnn_run)).eval()
    assert model.preprocessing.audio is not None and model.classes == sorted(TONES)
    val = open_splits(str(tones), ("val",))["val"]
    scored = Augmented(val, eval_transform(model.preprocessing, model.preprocessing.input_size), seed=0)
    predictor = Predictor(find_weights(crnn_run))
    for i in (0, len(val) - 1):
        features, label, _ = scored[(0, i)]
        torch.testing.assert_close(predictor.prepare(val.name(i)), features, rtol=0, atol=0)
        with torch.no_grad():
            probs = model(features[None]).softmax(-1)[0]
        name, p = predictor.predict(val.name(i), topk=1)[0][0]
        assert name == model.classes[int(probs.argmax())] and p == pytest.approx(float(probs.max()), abs=1e-6)


def test_an_image_resnet_trains_on_the_spectrogram_as_one_channel(tones, tmp_path):
    from reslab.weights import load_model

    run = tmp_path / "resnet"
    argv = ["train", "--model", "resnet20_cifar", "--depths", "1,1,1", "--widths", "4,8,16", "--stem-channels", "4",
            "--data", str(tones), *FAST[:2], "--batch-size", "4", "--workers", "0", "--no-progress",
            "--no-tensorboard", "--stop-after-steps", "2", "--output", str(run)]
    assert main(argv) == 0
    model = load_model(find_weights(run))
    assert model.spec.in_chans == 1 and model.preprocessing.audio == load_model_features()


def load_model_features():
    from reslab.registry import get_preset

    return get_preset("resnet_crnn").preprocessing.audio  # image models read the same features as the CRNN


def test_the_crnn_run_exports_to_onnx_with_a_time_axis(crnn_run, tmp_path, capsys):
    out = tmp_path / "crnn.onnx"
    assert main(["export", str(crnn_run), "--format", "onnx", "--output", str(out)]) == 0
    assert out.is_file() and "verified" in capsys.readouterr().out


def test_a_comparison_on_audio_reports_cost_per_second_of_audio_not_per_square_image(tones, tmp_path):
    """The report's GMACs and img/s columns: each model as it trained on clips (one channel, log-mel features of a
    second of audio), counted here independently with torch's flop counter, not at the preset's image size."""
    from torch.utils.flop_counter import FlopCounterMode

    from reslab import create_model, get_spec
    from reslab.experiments.compare import CompareConfig, _summarise
    from reslab.complexity import cached_complexity
    from reslab.report import RunRecord
    from reslab.spec.preprocessing import audio_preprocessing

    features = audio_preprocessing().audio
    small = ["--depths", "1,1,1,1", "--widths", "8,16,32,64", "--stem-channels", "8"]
    assert main(["train", "--model", "resnet18", *small, "--data", str(tones), *FAST, "--epochs", "1",
                 "--output", str(tmp_path / "run")]) == 0
    summary = _summarise(CompareConfig(("resnet18",), str(tones)), "resnet18",
                         [RunRecord("resnet18", 0, str(tmp_path / "run"), 0.0, 0.0)])
    model = create_model("resnet18", in_chans=1, num_classes=len(TONES), depths=(1, 1, 1, 1),
                         widths=(8, 16, 32, 64), stem_channels=8).eval()
    assert summary.params_m == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 1, features.n_mels, features.clip_frames))
    assert summary.gmacs == pytest.approx(counter.get_total_flops() / 2 / 1e9, rel=0.02)
    assert summary.gmacs < cached_complexity(get_spec("resnet18").replace(depths=(1, 1, 1, 1), widths=(8, 16, 32, 64),
                                             stem_channels=8))[1] / 1e9 / 10  # 224 px would be ~25x more
    assert summary.images_per_s > 0
