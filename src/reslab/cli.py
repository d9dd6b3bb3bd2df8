"""`reslab` command line: parse, call the library, print. Every command is a thin layer over the Python API."""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys

from .errors import ReslabError
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
        name = tok[2:].replace("-", "_")
        value = None
        if "=" in name:
            name, value = name.split("=", 1)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reslab", description="The ResNet family, from 2015 to ResNet-RS.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = extra
    try:
        return args.func(args) or 0
    except ReslabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`reslab models | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush cannot fail again
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
