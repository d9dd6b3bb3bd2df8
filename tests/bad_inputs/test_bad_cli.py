"""The CLI's one error boundary: misspelt flags, values that look like flags, unexpected exceptions."""
from __future__ import annotations

import pytest

from harness import assert_clean_error, run_cli

CASES = [
    pytest.param(["train", "--dept", "3"], 2, ["--dept"], id="flag-prefix-not-matched"),
    pytest.param(["info", "resnet50", "--widths=-1,128,256,512"], 2, ["widths", "positive"],
                 id="negative-widths-equals"),
    pytest.param(["info", "resnet50", "--depths", "3,x,6,3"], 2, ["depths"], id="non-integer-depths"),
    pytest.param(["info", "resnet50", "--colour", "red"], 2, ["--colour"], id="unknown-spec-field"),
    pytest.param(["info", "resnet50", "--preact", "maybe"], 2, ["preact"], id="bad-boolean-field"),
    pytest.param(["info", "resnet50", "--depths"], 2, ["--depths", "value"], id="override-without-value"),
    pytest.param(["frobnicate"], 2, ["frobnicate"], id="unknown-command"),
    pytest.param(["train", "--weights", "resnet20_cifar.reslab_cifar10", "--model", "resnet56_cifar"], 2,
                 ["resnet20_cifar's", "--model is resnet56_cifar", "drop --model"], id="weights-of-another-model"),
    pytest.param(["train", "--weights", "resnet50.pth"], 2, ["resnet50.pth", "no such file", "not published"],
                 id="weights-neither-file-nor-tag"),
    pytest.param(["train", "--pretrained", "--weights", "w.pth"], 2, ["--pretrained and --weights", "give one"],
                 id="pretrained-and-weights"),
    pytest.param(["train", "--pretrained", "--model", "resnet05"], 2, ["unknown model 'resnet05'"],
                 id="pretrained-unknown-model"),
]


@pytest.mark.parametrize("argv, code, words", CASES)
def test_bad_command_lines_get_one_line(argv, code, words):
    result = run_cli(argv)
    assert "Traceback" not in result.err
    assert result.code == code
    assert all(w.lower() in result.err.lower() for w in words), result.err


@pytest.fixture
def failing_command(monkeypatch):
    """A `reslab boom` command that raises whatever the test puts in `raised`."""
    import sys
    import types

    import reslab.cli

    raised = []

    def add_commands(sub):
        sub.add_parser("boom").set_defaults(func=lambda args: (_ for _ in ()).throw(raised[0]))

    monkeypatch.setitem(sys.modules, "reslab_test_boom", types.SimpleNamespace(add_commands=add_commands))
    monkeypatch.setattr(reslab.cli, "COMMAND_MODULES", [*reslab.cli.COMMAND_MODULES, "reslab_test_boom"])
    return raised


def test_unexpected_exception_is_one_line_with_the_traceback_in_a_file(failing_command, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    failing_command.append(ZeroDivisionError("division by zero"))
    result = run_cli(["boom"])
    assert_clean_error(result, 1, "ZeroDivisionError", "bug", "traceback written to")
    written = list((tmp_path / "reslab" / "errors").glob("*.txt"))
    assert len(written) == 1 and "ZeroDivisionError" in written[0].read_text()


def test_debug_shows_the_traceback(failing_command):
    failing_command.append(ZeroDivisionError("division by zero"))
    assert run_cli(["boom", "--debug"]).code == "crash (ZeroDivisionError)"


def test_os_error_names_the_file_and_reason(failing_command):
    import errno

    failing_command.append(OSError(errno.ENOSPC, "No space left on device", "out/model.onnx"))
    assert_clean_error(run_cli(["boom"]), 1, "no space left on device", "out/model.onnx")
