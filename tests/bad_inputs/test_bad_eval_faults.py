"""Faults of issue 28 around what a command prints and writes: a reader that closes the pipe, an ASCII-only
terminal, side files of `reslab eval` in a read-only folder, an empty HOME, a download that is an HTML page.
Each case fails the way a user saw it before the fix; nothing reaches the network."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import run_cli
from test_bad_predict import _good_image, run  # noqa: F401  (a fixture: the tiny dark-vs-light run)

from reslab.cli import main


# --- a reader that goes away (`| head -1`) stops neither the work nor its files ---------------------------------
def _first_line_then_close(argv: list, cwd: Path) -> tuple[int, str, str]:
    """`python -m reslab ARGV | head -1`: stdout into a pipe whose reader closes it after the first line.
    Unbuffered, so that every later line meets the closed pipe. (exit code, that line, stderr)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    with open(cwd / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "reslab", *map(str, argv)], stdout=subprocess.PIPE,
                                stderr=err, cwd=cwd, env=env)
        line = proc.stdout.readline().decode()
        proc.stdout.close()
        code = proc.wait(timeout=600)
    return code, line, (cwd / "stderr.txt").read_text()


def test_predict_into_a_closed_pipe_still_writes_its_output_file(run, tmp_path):
    folder = tmp_path / "images"
    for i in range(200):
        _good_image(folder / f"image_{i:03d}.png", brightness=40 + i % 2 * 170)
    out = tmp_path / "p.csv"
    code, line, err = _first_line_then_close(["predict", folder, "--checkpoint", run, "--output", out,
                                              "--batch-size", "1", "--topk", "1"], tmp_path)
    assert code == 0 and line.startswith(f"{folder / 'image_000.png'}: dark ("), err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert len(out.read_text().splitlines()) == 1 + 200  # the header, then one row per image at --topk 1


def test_training_into_a_closed_pipe_keeps_training_and_saves(tmp_path):
    out = tmp_path / "run"
    code, line, err = _first_line_then_close(["train", "--depths", "1,1,1", "--widths", "4,8,16", "--stem-channels",
                                              "4", "--epochs", "2", "--batch-size", "64", "--no-tensorboard",
                                              "--no-progress", "--output", out], tmp_path)
    assert code == 0 and line, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert (out / "last.safetensors").is_file()
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + 2  # both epochs ran


# --- an ASCII-only stdout: a file name with an accent prints with a replacement character ----------------------
def test_an_ascii_only_stdout_prints_non_ascii_names_with_replacement_characters(run, tmp_path):
    image = _good_image(tmp_path / "données.png")
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii")  # as PYTHONIOENCODING=ascii makes it
    err = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        code = main(["predict", str(image), "--checkpoint", str(run), "--output", str(tmp_path / "p.json")])
        stdout.flush()
    assert code == 0, err.getvalue()
    printed = stdout.buffer.getvalue().decode("ascii")
    assert f"{tmp_path}/donn?es.png: dark (" in printed and "wrote 1 predictions" in printed
    assert json.loads((tmp_path / "p.json").read_text())[0]["file"] == str(image)  # files keep the real name
