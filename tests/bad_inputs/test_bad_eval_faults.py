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
from test_pretrained import _serve_entry, server  # noqa: F401  (a fixture: a loopback HTTP server)

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


# --- eval's side files: after the metrics, only where asked or writable, each said --------------------------------
@pytest.fixture
def read_only(monkeypatch):
    """read_only(folder): no file can be made in `folder`. chmod, and since root ignores modes, opening a file for
    writing there fails as a read-only folder makes it fail (builtins.open, io.open and os.open)."""
    import builtins
    import errno

    folders: list[Path] = []

    def inside(file) -> bool:
        return isinstance(file, (str, os.PathLike)) and Path(file).resolve().parent in folders

    def refuse(file):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))

    real_open, real_os_open = builtins.open, os.open

    def fake_open(file, mode="r", *args, **kwargs):
        return refuse(file) if inside(file) and any(c in mode for c in "wax+") else real_open(file, mode, *args,
                                                                                                **kwargs)

    unnamed = getattr(os, "O_TMPFILE", 0)  # tempfile.TemporaryFile(dir=folder) opens the folder with it

    def fake_os_open(file, flags, *args, **kwargs):
        creates = (inside(file) and flags & os.O_CREAT
                   or unnamed and flags & unnamed == unnamed and Path(file).resolve() in folders)
        return refuse(file) if creates else real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        folders.append(folder.resolve())
        folder.chmod(0o500)
        return folder

    yield make
    for folder in folders:
        if folder.exists():  # tmp_path may have gone first
            folder.chmod(0o700)


@pytest.fixture
def checkpoint_in(run):
    """checkpoint_in(folder): a copy of the tiny run's weights there."""
    import shutil

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(run, folder / "last.safetensors"))

    return make


def test_eval_in_a_read_only_folder_prints_the_metrics_and_says_the_png_was_skipped(checkpoint_in, read_only,
                                                                                     tiny_folder, tmp_path):
    checkpoint = checkpoint_in(tmp_path / "shared")
    read_only(tmp_path / "shared")
    result = run_cli(["eval", "--checkpoint", checkpoint, "--data", tiny_folder])
    assert result.code == 0 and "Traceback" not in result.err, result.err
    assert "top-1 100.00%" in result.out and "light" in result.out
    assert f"confusion matrix not written: cannot write {checkpoint.parent / 'confusion_val.png'} " \
           "(permission denied); give --confusion PATH" in result.err
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["last.safetensors"]


def test_eval_with_a_confusion_path_that_cannot_be_written_fails_before_evaluating(checkpoint_in, read_only,
                                                                                    tiny_folder, tmp_path):
    from harness import assert_clean_error

    checkpoint = checkpoint_in(tmp_path / "run")
    png = read_only(tmp_path / "locked") / "c.png"
    result = run_cli(["eval", "--checkpoint", checkpoint, "--data", tiny_folder, "--confusion", png])
    assert_clean_error(result, 2, "cannot write into", "locked", "permission denied")
    assert "top-1" not in result.out


def test_eval_json_writes_no_png_unless_asked(checkpoint_in, tiny_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = checkpoint_in(tmp_path / "run")
    result = run_cli(["eval", "--checkpoint", checkpoint, "--data", tiny_folder, "--json"])
    assert result.code == 0, result.err
    assert json.loads(result.out)["top1"] == 1.0
    assert sorted(p.name for p in tmp_path.rglob("*.png")) == []
    asked = run_cli(["eval", "--checkpoint", checkpoint, "--data", tiny_folder, "--json", "--confusion", "c.png"])
    assert asked.code == 0 and json.loads(asked.out)["top1"] == 1.0  # stdout is the JSON alone
    assert "confusion matrix: c.png" in asked.err and (tmp_path / "c.png").stat().st_size > 0


CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def test_eval_json_of_published_weights_writes_no_png_in_the_current_folder(tmp_path, monkeypatch):
    """The weights shipped in the package (no network), on a folder named as CIFAR-10's classes."""
    from harness import write_image_folder

    data = write_image_folder(tmp_path / "data", classes=CIFAR10, train=1, val=1, size=32)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run_cli(["eval", "--model", "resnet20_cifar", "--pretrained", "--data", data, "--json"])
    assert result.code == 0, result.err
    assert json.loads(result.out)["images"] == 10
    assert list(work.iterdir()) == []


# --- an empty HOME: caches under the user's home from the password database, not /.cache ------------------------
@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    """HOME='' and no other cache variable; the password database gives tmp_path/home (None: no entry at all)."""
    import pwd
    from types import SimpleNamespace

    for name in ("XDG_CACHE_HOME", "RESLAB_CACHE", "TORCH_HOME", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "")

    def home(path: Path | None) -> None:
        def getpwuid(uid):
            if path is None:
                raise KeyError(f"getpwuid(): uid not found: {uid}")
            return SimpleNamespace(pw_dir=str(path))

        monkeypatch.setattr(pwd, "getpwuid", getpwuid)

    return home


@pytest.mark.parametrize("tag, cache", [("resnet18.tv_in1k", "torch/hub/checkpoints/resnet18-"),
                                        ("resnet50.a1_in1k", "huggingface/hub/models--timm--resnet50.a1_in1k")])
def test_an_empty_home_puts_the_caches_in_the_users_home_not_the_root(empty_home, tmp_path, tag, cache):
    from reslab.util.files import reslab_cache

    empty_home(tmp_path / "home")
    result = run_cli(["weights", "info", tag])
    assert result.code == 0, result.err
    assert f"would go to {tmp_path}/home/.cache/{cache}" in result.out and " /.cache" not in result.out
    assert reslab_cache() == tmp_path / "home" / ".cache" / "reslab"


def test_an_empty_home_and_no_password_entry_is_one_line(empty_home):
    from harness import assert_clean_error

    empty_home(None)
    result = run_cli(["weights", "info", "resnet18.tv_in1k"])
    assert_clean_error(result, 2, "no cache folder", "HOME is empty", "set HOME, or XDG_CACHE_HOME")


# --- a download that is an HTML page with status 200: said so, nothing left in the cache --------------------------
@pytest.mark.parametrize("headers, body, why", [
    pytest.param({"Content-Type": "text/html; charset=utf-8"}, b"<p>Please sign in</p>", "content-type text/html",
                 id="content-type"),
    pytest.param({}, b"\n  <!DOCTYPE html><html><body>503: try later</body></html>", "it begins '<!DOCTYPE html'",
                 id="leading-bytes"),
])
def test_a_download_that_is_an_html_page_is_said_so_and_leaves_no_file(server, monkeypatch, tmp_path, headers,
                                                                      body, why):
    from harness import assert_clean_error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server.files["/resnet18.pth"] = (body, headers)
    _serve_entry(monkeypatch, "resnet18.tv_in1k", url=f"{server.url}/resnet18.pth", file_name="resnet18.pth",
                 sha256_prefix=None, sha256=None)
    result = run_cli(["weights", "download", "resnet18.tv_in1k"])
    assert_clean_error(result, 2, f"resnet18.tv_in1k: {server.url}/resnet18.pth answered with an HTML page ({why})",
                       "not a checkpoint", "nothing was saved")
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    assert not folder.exists() or not list(folder.iterdir())
