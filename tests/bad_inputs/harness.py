"""The bad-input suite's harness (imported by its test files; the `tiny_folder` fixture is in tests/conftest.py):
run `reslab` in-process as a user would, and check how it fails.

Every case asserts the exit code, that no traceback reaches the user, that the one error line names the
problem, and (where files are involved) that nothing half-written is left. With RESLAB_BAD_INPUT_TABLE=path,
each call appends {case, command, code, message} to that file as a JSON line: the table of cases in the notes.
"""
from __future__ import annotations

import builtins
import contextlib
import errno
import io
import json
import os
import shlex
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from reslab.cli import main


@dataclass
class CliResult:
    code: int | str
    out: str
    err: str

    @property
    def message(self) -> str:
        """The last line on stderr that starts with 'error:' (else the last stderr line)."""
        lines = [l.strip() for l in self.err.replace("\r", "\n").splitlines() if l.strip()]
        errors = [l for l in lines if l.startswith("error:")]
        return (errors or lines or [""])[-1]


def run_cli(argv: list[str], kind: str | None = None) -> CliResult:
    """`reslab ARGV` in this process; an exception escaping main() is recorded as a crash, as a user sees it."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 1
        except BaseException as e:  # noqa: BLE001 -- what a user would see as a traceback
            traceback.print_exc(file=err)
            code = f"crash ({type(e).__name__})"
    result = CliResult(code, out.getvalue(), err.getvalue())
    _record(kind, argv, result)
    return result


def _record(kind, argv, result: CliResult) -> None:
    table = os.environ.get("RESLAB_BAD_INPUT_TABLE")
    if not table:
        return
    case = kind or os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::")[-1]
    message = result.message if "Traceback" not in result.err else \
        "TRACEBACK: " + [l for l in result.err.splitlines() if l.strip()][-1]
    row = {"case": case, "command": "reslab " + shlex.join(str(a) for a in argv), "code": result.code,
           "message": message[:300]}
    with open(table, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def assert_clean_error(result: CliResult, code: int, *words: str) -> None:
    """Exit `code`, no traceback, and an 'error:' line that mentions each of `words` (case-insensitive)."""
    assert "Traceback" not in result.err, result.err
    assert result.code == code, (result.code, result.err)
    assert result.message.startswith("error:"), result.err
    for w in words:
        assert w.lower() in result.message.lower(), (w, result.message)


def assert_nothing_half_written(folder: Path) -> None:
    """No temporary or empty files left behind by an interrupted write."""
    folder = Path(folder)
    if not folder.exists():
        return
    leftovers = [p for p in folder.rglob("*") if p.is_file() and (p.name.startswith(".tmp") or ".tmp" in p.suffixes
                                                                  or p.suffix == ".tmp" or p.stat().st_size == 0)]
    assert not leftovers, leftovers


def write_image_folder(root: Path, classes=("dark", "light"), train: int = 8, val: int = 4, size: int = 16) -> Path:
    """ROOT/{train,val}/<class>/*.png; class k is a flat grey of brightness 40 + 170 k plus noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("val", val)):
        for k, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = np.clip(40 + 170 * k + rng.normal(0, 10, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


# a model that trains in about a second on 16 px images
TINY_MODEL = ["--model", "resnet20_cifar", "--depths", "1,1,1", "--widths", "4,8,16", "--stem-channels", "4"]
TINY_TRAIN = ["--epochs", "1", "--batch-size", "8", "--img-size", "16", "--workers", "0", "--no-tensorboard",
              "--no-progress"]


class _Filling:
    """A file that takes `room` more bytes (or characters), then fails as a full disk does."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, data):
        n = min(len(data), self.room)
        self.f.write(data[:n])
        self.room -= n
        if n < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return n

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def fill_disk(monkeypatch, folder: Path, room: int = 1024) -> None:
    """From now on, files opened for writing in `folder` take `room` bytes each, then fail with ENOSPC
    (builtins.open and io.open, which pathlib writes through)."""
    real_open = builtins.open

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        inside = isinstance(file, (str, os.PathLike)) and Path(file).resolve().parent == Path(folder).resolve()
        return _Filling(f, room) if inside and any(c in mode for c in "wax+") else f

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr("io.open", fake_open)

