"""The README's shell commands, run as written, on tiny data and settings.

Each ```bash block runs in its own scratch folder laid out like the repository: `.venv` (this interpreter's
environment), `benchmarks/`, `../shared/data/cifar10-jpeg` and `../shared/data/fsdd` as small generated datasets,
and the files the README assumes a user has (cat.jpg, photos/, model.safetensors). Its commands run in order, each
after the block's variable assignments, shrunk by `shrink` (training: 1 epoch, a resume 2, one seed, at most 300
images; benchmarks: a few steps at 64 px). The commands in NOT_RUN cannot run here; each is a skipped test that
names the reason.
"""
from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from audio_tones import RATE, tone

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

# command (as the README writes it, up to where it is unambiguous) -> why it does not run here
NOT_RUN = {
    "make install": "installs packages from the network",
    "make demo": "the default job at full length (its `reslab compare` runs below, shrunk)",
    "make test": "the whole test suite, this test among it",
    "make lint": "CI runs it before the tests",
    "python3 -m venv .venv": "the first step of installing (see make install)",
    ".venv/bin/python -m pip install": "installs packages from the network",
    ".venv/bin/reslab weights download": "downloads published weights",
    ".venv/bin/reslab predict cat.jpg --model resnet50.a1_in1k --pretrained": "downloads published weights",
    ".venv/bin/reslab eval --model resnet50.tv2_in1k --pretrained": "downloads published weights",
    ".venv/bin/reslab bench resnet50 --device cuda": "needs a CUDA GPU",
}
TRAINING = ("train", "pretrain", "compare")
SUBSET, VAL_SUBSET = "300", "100"  # a class-balanced 300 of the 400 training images holds a batch of 256


def bash_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(the heading above it, its commands: continuation lines joined, blank lines dropped) per ```bash block."""
    blocks, heading, lines = [], "", iter(text.splitlines())
    for line in lines:
        if line.startswith("#"):
            heading = line.lstrip("# ")
        elif line.strip() == "```bash":
            body = "\n".join(iter(lambda: next(lines), "```")).replace("\\\n", " ")
            blocks.append((heading, [command for command in body.splitlines() if command.strip()]))
    return blocks


BLOCKS = bash_blocks(README.read_text())


def not_run(command: str) -> str | None:
    return next((why for start, why in NOT_RUN.items() if command.startswith(start)), None)


def shrink(argv: list[str]) -> list[str]:
    """The command on tiny settings: fewer epochs, seeds, images and timed steps; the same options otherwise."""
    argv = list(argv)
    if Path(argv[0]).name == "torchrun":  # a port of its own: other tests may run torchrun at the same time
        argv.insert(1, f"--master-port={_free_port()}")
    name = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if Path(a).name == "reslab"), None)
    if name in TRAINING and "--resume" in argv:
        return _set(argv, "--epochs", "2") if "--epochs" in argv else argv  # one epoch more than the run had
    if name in TRAINING:
        _set(argv, "--epochs", "1")
        _drop(argv, "--milestones")  # beyond a 1-epoch run
        for flag, value in (("--subset", SUBSET), ("--val-subset", VAL_SUBSET)):
            if flag in argv or "--data" not in argv:  # the built-in digits: 1,437 images
                _set(argv, flag, value)
        if name == "compare":
            _set(argv, "--seeds", "1")
    elif name == "bench":
        for flag, value in (("--repeats", "2"), ("--warmup", "1"), ("--img-size", "64")):
            _set(argv, flag, value)
    elif name == "zoo" and "--bench" in argv:
        for flag, value in (("--repeats", "1"), ("--batch-size", "1"), ("--img-size", "64")):
            _set(argv, flag, value)
    elif any(a.endswith("benchmarks/train_speed.py") for a in argv):
        argv += ["--steps", "2", "--warmup", "1", "--no-compile"]
    return argv


def _set(argv: list[str], flag: str, value: str) -> list[str]:
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return argv


def _drop(argv: list[str], flag: str) -> None:
    if flag in argv:
        del argv[argv.index(flag):argv.index(flag) + 2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the scratch repository ----------------------------------------------------------------------------------
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _image(path: Path, level: int, size: int = 32, seed: int = 0) -> None:
    """A JPEG of noise around grey `level`."""
    pixels = np.random.default_rng(seed).normal(level, 30, (size, size, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


def _images(folder: Path, count: int, level: int, size: int = 32) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        _image(folder / f"{i}.jpg", level, size, seed=level * 1000 + i)


def _clips(folder: Path, count: int, digit: int, names=()) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate([*names, *(f"{digit}_{i}.wav" for i in range(count - len(names)))]):
        soundfile.write(folder / name, tone(300 + 120 * digit, 0.4, seed=100 * digit + i), RATE, subtype="PCM_16")


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """../shared/data as the README expects it: CIFAR-10 JPEG folders (40 training and 10 validation images per
    class, enough for --labels-per-class 25 and FixMatch's unlabelled batches) and FSDD's digit clips."""
    data = tmp_path_factory.mktemp("readme") / "shared" / "data"
    for k, name in enumerate(CIFAR_CLASSES):
        _images(data / "cifar10-jpeg" / "train" / name, 40, 20 * k + 20)
        _images(data / "cifar10-jpeg" / "val" / name, 10, 20 * k + 20)
    for digit in range(10):  # 13 training clips per digit: a batch of 128 fits
        _clips(data / "fsdd" / "train" / str(digit), 13, digit)
        _clips(data / "fsdd" / "val" / str(digit), 3, digit, names=("7_theo_5.wav",) if digit == 7 else ())
    return data.parent.parent


@pytest.fixture
def repo(shared, tmp_path) -> Path:
    """A folder beside ../shared, with the environment, the benchmarks and the user's own files of the README."""
    import reslab

    root = shared / f"repo-{tmp_path.name}"
    root.mkdir()
    (root / ".venv").symlink_to(sys.prefix)
    (root / "benchmarks").symlink_to(REPO / "benchmarks")
    _image(root / "cat.jpg", 120, size=64)
    _images(root / "photos", 2, 90, size=48)
    tiny = reslab.create_model("resnet20_cifar", depths=(1, 1, 1), widths=(8, 16, 32), stem_channels=8,
                               num_classes=10)
    reslab.save_weights(tiny, root / "model.safetensors", classes=list(CIFAR_CLASSES))
    return root


def _environment(root: Path) -> dict:
    # one thread (the machine runs other jobs), nothing downloaded, caches inside the scratch folder
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg",
            "RESLAB_CACHE": str(root / ".cache")}


@pytest.mark.slow
@pytest.mark.parametrize("heading, commands", BLOCKS, ids=[f"{i}-{h}" for i, (h, _) in enumerate(BLOCKS)])
def test_readme_block_runs(repo, heading, commands):
    variables: dict[str, str] = {}
    env = _environment(repo)
    for command in commands:
        tokens = shlex.split(command, comments=True)
        assignment = re.fullmatch(r"([A-Z_]+)=(.*)", tokens[0]) if len(tokens) == 1 else None
        if assignment:
            variables[assignment[1]] = assignment[2]
            continue
        if not_run(command):
            continue
        for name, value in variables.items():
            tokens = [t.replace(f"${name}", value) for t in tokens]
        argv = shrink(tokens)
        if "/" in argv[0]:
            argv[0] = str(repo / argv[0])
        result = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (
            f"README command failed ({heading}): {command}\nran: {shlex.join(argv)}\nexit {result.returncode}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


ALL_COMMANDS = [command for _, commands in BLOCKS for command in commands]


@pytest.mark.parametrize("start", NOT_RUN)
def test_readme_command_not_run_here(start):
    assert any(command.startswith(start) for command in ALL_COMMANDS), f"the README no longer has {start!r}"
    pytest.skip(f"{start}: {NOT_RUN[start]}")


def test_every_command_is_run_or_says_why_not():
    """A command line is a variable, a command this test runs, or one of NOT_RUN; none has a placeholder."""
    for command in ALL_COMMANDS:
        assert "..." not in command and " ROOT " not in command, command  # a template, not a command
        tokens = shlex.split(command, comments=True)
        runnable = tokens[0].startswith((".venv/bin/", "make ")) or re.fullmatch(r"[A-Z_]+=.*", tokens[0])
        assert runnable or not_run(command), command


def test_shrink_keeps_the_command_and_makes_it_tiny():
    argv = shlex.split(".venv/bin/reslab compare --models a,b --data D --subset 5000 --epochs 8 --seeds 2 "
                       "--milestones 4,6 --output runs/x")
    assert shrink(argv) == [".venv/bin/reslab", "compare", "--models", "a,b", "--data", "D", "--subset", SUBSET,
                            "--epochs", "1", "--seeds", "1", "--output", "runs/x"]
    assert shrink([".venv/bin/reslab", "train", "--resume", "r", "--epochs", "40"])[-1] == "2"
    assert shrink([".venv/bin/reslab", "train"]) == [".venv/bin/reslab", "train", "--epochs", "1", "--subset", SUBSET,
                                                     "--val-subset", VAL_SUBSET]
