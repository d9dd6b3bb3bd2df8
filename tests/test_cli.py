"""The CLI parses, calls the library and prints; bad input exits non-zero with one clear line."""
import argparse
import re
import subprocess
import sys

import pytest

from reslab.cli import build_parser, main


def command_lines(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command line with its own --help: (), ('train',), ('weights',), ('weights', 'list'), ..."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [prefix, *(line for sub in subs for name, child in sub.choices.items()
                      for line in command_lines(child, (*prefix, name)))]


COMMAND_LINES = command_lines(build_parser())


def test_models_lists_presets_with_paper_params_and_gmacs(capsys):
    assert main(["models", "resnet50*"]) == 0
    out = capsys.readouterr().out
    assert "resnet50d" in out and "ResNet-D" in out and "25.58" in out and "4.33" in out
    assert "resnet18 " not in out


def test_info_shows_spec_cost_and_stage_shapes(capsys):
    assert main(["info", "resnet20_cifar"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n  shortcut +zeropad\n", out)
    assert "stage3   (64, 8, 8)" in out
    assert "parameters: 0.27" in out


def test_info_accepts_spec_overrides(capsys):
    assert main(["info", "resnet18", "--attention", "se", "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n  attention +se\n", out) and "stage4   (512, 2, 2)" in out


def test_diff_shows_what_the_bag_of_tricks_changed(capsys):
    assert main(["diff", "resnet50", "resnet50d"]) == 0
    out = capsys.readouterr().out
    lines = [l.split()[0] for l in out.splitlines()[2:] if l.strip() and not l.startswith(("parameters", "GMACs"))]
    assert lines == ["stem", "shortcut"]
    assert "+0.019 M" in out


def test_unknown_model_suggests_close_names(capsys):
    assert main(["info", "resnet05"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'resnet05'" in err and "resnet50" in err


def test_invalid_override_names_the_field(capsys):
    assert main(["info", "resnet50", "--depths", "3,4"]) == 2
    assert "widths has 4 entries but depths has 2" in capsys.readouterr().err
    assert main(["info", "resnet50", "--widths", "64,-1,256,512"]) == 2
    assert "widths must be positive" in capsys.readouterr().err
    assert main(["info", "resnet50", "--colour", "red"]) == 2
    assert "unknown option --colour" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "reslab", "diff", "resnet50", "resnet50a"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "stride_on" in result.stdout


def test_output_cut_short_by_the_reader_ends_quietly():
    # `reslab info resnet18 | head -0`: the reader has gone before the first line; no traceback, exit 0
    proc = subprocess.Popen([sys.executable, "-m", "reslab", "info", "resnet18"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Traceback" not in stderr, stderr


@pytest.mark.parametrize("command", COMMAND_LINES, ids=lambda c: " ".join(("reslab", *c)))
def test_help_does_not_import_torch(command):
    # -X importtime logs every module the interpreter imports: `reslab --help` took 2.2 s when it imported torch
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "reslab", *command, "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage: reslab"), result.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "reslab.cli" in imported  # the log is read right
    assert "torch" not in imported, [m for m in imported if m.startswith("reslab.")]


def test_every_command_is_checked_for_torch_free_help():
    assert {("train",), ("bench",), ("compare",), ("export",), ("weights", "list"), ()} <= set(COMMAND_LINES)
