"""`reslab` command line: parse, call the library, print. Every command is a thin layer over the Python API."""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

from .errors import ReslabError
from .files import describe_os_error
from .spec import PER_STAGE, SpecError

# modules that add their own sub-commands through `add_commands(subparsers)`
COMMAND_MODULES = ["reslab.zoo_cli", "reslab.bench_cli", "reslab.evolution_cli", "reslab.apps_cli",
                   "reslab.train_cli", "reslab.compare_cli"]


def parse_overrides(tokens: list[str], spec) -> dict:
    """Turn leftover `--field value` tokens into spec overrides, typed like the spec's current value."""
    names = {f.name for f in dataclasses.fields(spec)}
    out, i = {}, 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--"):
            raise SpecError(f"unexpected argument {tok!r}")
        name, value = tok[2:], None
        if "=" in name:  # split before renaming: in --widths=-1,... the value's dashes are the value's
            name, value = name.split("=", 1)
        name = name.replace("-", "_")
        if name not in names:
            raise SpecError(f"unknown option --{name.replace('_', '-')}: not a spec field; fields: {sorted(names)}")
        if value is None:
            if i + 1 >= len(tokens):
                raise SpecError(f"--{name.replace('_', '-')} needs a value")
            value, i = tokens[i + 1], i + 1
        out[name] = _coerce(name, value, getattr(spec, name))
        i += 1
    return out


def _coerce(name: str, value: str, current):
    """`value` typed like `current`; comma-separated for tuples and for fields that take one value per stage."""
    if isinstance(current, tuple) or (name in PER_STAGE and "," in value):
        sample = current[0] if isinstance(current, tuple) else current
        return tuple(_scalar(name, v.strip(), sample, "comma-separated ") for v in value.split(",") if v.strip())
    return _scalar(name, value, current)


def _scalar(name: str, value: str, current, many: str = ""):
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        raise SpecError(f"{name}={value!r}: expected {many}{type(current).__name__} values") from None
    return value


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


def main(argv: list[str] | None = None) -> int:
    """Run one command. The one place where errors become a line on stderr and an exit code:
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
        folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reslab" / "errors"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        fd, name = tempfile.mkstemp(prefix=f"{stamp}-", suffix=".txt", dir=folder)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"reslab {' '.join(sys.argv[1:])}\n")
            fh.write("".join(traceback.format_exception(type(e), e, e.__traceback__)))
        return Path(name)
    except OSError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
