"""Audio folders on bad input: a .wav that is not audio is refused and named; stereo, 24-bit and 44.1 kHz clips are
converted and said once per split (not once per file); empty and silent clips are skipped with a count (and
refused by name by predict); a clip far longer than the rest is said and cropped; a folder mixing images and audio
is refused with the reason."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from audio_tones import RATE, one_thread, tone, write_tone_folder  # noqa: F401 (one_thread: autouse)
from harness import assert_clean_error, run_cli

TRAIN = ["train", "--model", "resnet_crnn", "--stem-channels", "4", "--stage-channels", "4,8", "--depths", "1,1",
         "--freq-strides", "2,2", "--time-strides", "1,2", "--rnn-hidden", "8", "--epochs", "1", "--batch-size", "4",
         "--workers", "0", "--no-progress", "--no-tensorboard", "--stop-after-steps", "1"]


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    return write_tone_folder(tmp_path_factory.mktemp("tones") / "data")


@pytest.fixture
def data(tones, tmp_path) -> Path:
    return Path(shutil.copytree(tones, tmp_path / "data"))


def _train(data: Path, tmp_path: Path):
    return run_cli([*TRAIN, "--data", data, "--output", tmp_path / "run"])


def test_a_wav_that_is_not_audio_is_refused_and_named(data, tmp_path):
    bad = data / "train" / "low" / "notes.wav"
    bad.write_text("these are my notes, not a recording")
    assert_clean_error(_train(data, tmp_path), 2, "notes.wav", "not an audio file")


def test_stereo_24_bit_and_44k_clips_are_converted_and_said_once(data, tmp_path):
    folder = data / "train" / "high"
    for i in range(3):  # three of each kind: still one line for the split
        mono = tone(1500.0, 0.3, seed=50 + i)
        soundfile.write(folder / f"stereo{i}.wav", np.stack([mono, mono], 1), RATE)
        soundfile.write(folder / f"deep{i}.wav", mono, RATE, subtype="PCM_24")
        soundfile.write(folder / f"cd{i}.wav", tone(1500.0, 0.3, rate=44100, seed=60 + i), 44100)
    result = _train(data, tmp_path)
    assert result.code == 0, result.err
    said = [l for l in result.out.splitlines() if "converted as read" in l]
    assert len(said) == 1 and str(data / "train") in said[0], result.out
    for words in ("3 clip(s) 2 channels to mono", "3 clip(s) PCM_24 to float", "3 clip(s) 44100 Hz"):
        assert words in said[0], said[0]


def test_empty_clips_are_skipped_with_a_count(data, tmp_path):
    for i in range(2):
        soundfile.write(data / "train" / "low" / f"empty{i}.wav", np.zeros(0, np.float32), RATE)
    result = _train(data, tmp_path)
    assert result.code == 0, result.err
    assert "skipped 2 empty clip(s) (no samples)" in result.out


def test_a_class_of_only_empty_clips_is_refused(data, tmp_path):
    for clip in (data / "val" / "low").glob("*.wav"):
        soundfile.write(clip, np.zeros(0, np.float32), RATE)
    assert_clean_error(_train(data, tmp_path), 2, "low", "without (non-empty, non-silent) clips")


def test_silent_clips_are_skipped_with_a_count_and_a_faint_one_trains(data, tmp_path):
    for split in ("train", "val"):
        soundfile.write(data / split / "low" / "silence.wav", np.zeros(RATE // 2, np.float32), RATE)
        # faint but not silent (peak 3e-4, -70 dBFS): kept; its per-utterance normalisation must not divide by ~0
        faint = tone(300.0, 0.5, seed=3)
        soundfile.write(data / split / "low" / "faint.wav", 3e-4 * faint / np.abs(faint).max(), RATE)
    result = _train(data, tmp_path)
    assert result.code == 0 and "nan" not in result.out.lower(), result.out + result.err
    assert "skipped 1 silent clip(s) (no sample above -80 dBFS)" in result.out


def test_predict_names_empty_and_silent_clips_and_says_conversions_once(data, tmp_path):
    run = tmp_path / "run"
    assert run_cli([*TRAIN, "--data", data, "--output", run]).code == 0
    clips = tmp_path / "clips"
    clips.mkdir()
    soundfile.write(clips / "empty.wav", np.zeros(0, np.float32), RATE)
    soundfile.write(clips / "silent.wav", np.zeros(RATE, np.float32), RATE)
    for i in range(2):
        mono = tone(300.0, 0.5, seed=70 + i)
        soundfile.write(clips / f"stereo{i}.wav", np.stack([mono, mono], 1), 44100, subtype="PCM_24")
    result = run_cli(["predict", clips, "--checkpoint", run, "--topk", "1"])
    assert result.code == 1  # some files could not be classified: said, the others predicted
    assert "empty.wav is empty (no samples): nothing to classify" in result.err
    assert "silent.wav is silent (no sample above -80 dBFS): nothing to classify" in result.err
    assert [l.split(":")[0] for l in result.out.splitlines()] == [str(clips / f"stereo{i}.wav") for i in range(2)]
    said = [l for l in result.err.splitlines() if "converted as read" in l]
    assert said == ["converted as read: 2 clip(s) 2 channels to mono, 2 clip(s) PCM_24 to float, "
                    "2 clip(s) 44100 Hz to 8000 Hz"]


def test_a_clip_far_longer_than_the_rest_is_said_and_cropped(data, tmp_path):
    soundfile.write(data / "train" / "high" / "ramble.wav", tone(1500.0, 12.0, seed=7), RATE)
    result = _train(data, tmp_path)
    assert result.code == 0, result.err
    said = [l for l in result.out.splitlines() if "far longer" in l]
    assert len(said) == 1 and "ramble.wav at 12.0 s" in said[0] and "crop" in said[0]


def test_a_folder_mixing_images_and_audio_is_refused(data, tmp_path):
    Image.new("RGB", (8, 8)).save(data / "train" / "high" / "photo.png")
    assert_clean_error(_train(data, tmp_path), 2, "mixes images", "photo.png", "one or the other")


def test_an_audio_model_on_images_is_refused(tiny_folder, tmp_path):
    assert_clean_error(_train(tiny_folder, tmp_path), 2, "resnet_crnn takes audio clips", "holds images")


def test_a_fifo_named_like_a_clip_is_unreadable_not_waited_on(tmp_path, fifo):
    from reslab.data.audio_io import UnreadableAudioError, read_clip

    pipe = fifo(tmp_path / "a.wav")
    with pytest.raises(UnreadableAudioError, match="a named pipe"):
        read_clip(pipe)
    assert not fifo.released  # nobody was left waiting on the pipe
