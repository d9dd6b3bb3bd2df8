"""`reslab` command line: parse, call the library, print. Every command is a thin layer over the Python API."""
from __future__ import annotations

import argparse
import datetime
import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

from ..errors import ReslabError
from ..util.files import describe_os_error, reslab_cache

# one module per command (models also holds info and diff, train also recipes, weights also the options of the
# commands that load a model), each adding its sub-commands through `add_commands(subparsers)` and importing the
# library only when its command runs
COMMAND_MODULES = ["reslab.cli.models", "reslab.cli.bench", "reslab.cli.zoo", "reslab.cli.predict", "reslab.cli.export",
                   "reslab.cli.train", "reslab.cli.eval", "reslab.cli.compare", "reslab.cli.weights",
                   "reslab.cli.pretrain"]


class _Parser(argparse.ArgumentParser):
    """No prefix matching: `--dept 3` is an error, not a silent `--depths 3` (or another flag's value)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        """One line, like every other error, naming the command; `--help` still shows the usage."""
        _error(f"{self.prog}: {message} (see '{self.prog} --help')")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reslab", description="The ResNet family, from 2015 to ResNet-RS.",
                     epilog="--debug (anywhere, or RESLAB_DEBUG=1) shows the full traceback of an unexpected error.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


class _SafeStream:
    """sys.stdout or sys.stderr while a command runs. A reader that went away (`reslab train | head -1`) never
    stops the work: the first broken pipe points the stream at /dev/null and the command carries on, writing its
    files and exiting with its own code. A character the stream's encoding lacks (PYTHONIOENCODING=ascii and a
    file name with an accent) is written as a replacement character instead of failing."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "ascii"
            return self.stream.write(text.encode(encoding, "replace").decode(encoding))
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        """Later writes, and the flush at exit, go nowhere (a stream without a file descriptor drops each)."""
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError):
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def __getattr__(self, name):  # isatty, fileno, encoding, buffer...: the stream's own
        return getattr(self.stream, name)


def main(argv: list[str] | None = None) -> int:
    """Run one command with stdout and stderr that survive a closed pipe and an ASCII-only terminal."""
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _SafeStream(sys.stdout), _SafeStream(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams


def _main(argv: list[str] | None) -> int:
    """The one place where errors become a line on stderr and an exit code:
    ResLab's own errors (bad input) exit 2, a failed file operation 1, an unexpected exception 1 with its
    traceback written to a file (or shown with --debug), Ctrl-C 130."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("RESLAB_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra
    try:
        return args.func(args) or 0
    except ReslabError as e:
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`reslab models | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush cannot fail again
        return 0
    except OSError as e:  # a file operation the library did not anticipate: say which file and why
        if debug:
            raise
        _error(describe_os_error(e))
        return 1
    except Exception as e:  # a bug, not bad input: one line here, the whole story in a file
        if debug:
            raise
        where = _save_traceback(e)
        first = (str(e).strip().splitlines() or [""])[0]
        _error(f"unexpected {type(e).__name__}: {first} (this is a bug in ResLab; "
               + (f"traceback written to {where}" if where else "rerun with --debug for the traceback") + ")")
        return 1


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _save_traceback(e: BaseException) -> Path | None:
    try:
        folder = reslab_cache() / "errors"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        fd, name = tempfile.mkstemp(prefix=f"{stamp}-", suffix=".txt", dir=folder)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"reslab {' '.join(sys.argv[1:])}\n")
            fh.write("".join(traceback.format_exception(type(e), e, e.__traceback__)))
        return Path(name)
    except (OSError, ReslabError):  # no place for it: the error line says to rerun with --debug
        return None


if __name__ == "__main__":
    raise SystemExit(main())
