"""`reslab eval` and `reslab eval --knn` show a progress bar (on a terminal, or with --progress); the library is
silent unless asked."""
import pytest

import reslab
from bad_inputs.harness import run_cli
from reslab.train.evaluate import evaluate_model
from reslab.weights import load_model

BAR = "img/s eta"  # what every progress bar line shows


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = reslab.create_model("resnet20_cifar", depths=(1, 1, 1), widths=(4, 8, 16), stem_channels=4,
                                num_classes=2, input_size=16)
    return reslab.save_weights(model, tmp_path_factory.mktemp("run") / "last.safetensors",
                               classes=["dark", "light"])


def evaluate(checkpoint, folder, *flags):
    result = run_cli(["eval", "--checkpoint", str(checkpoint), "--data", str(folder), "--batch-size", "2",
                      "--json", *flags])
    assert result.code == 0, result.err
    return result


def test_progress_shows_a_bar_over_the_evaluation_batches(checkpoint, tiny_folder):
    err = evaluate(checkpoint, tiny_folder, "--progress").err
    assert BAR in err and "evaluating on" in err and " 4/4 " in err  # 8 val images in batches of 2


def test_knn_progress_shows_a_bar_over_the_bank_and_one_over_the_queries(checkpoint, tiny_folder):
    err = evaluate(checkpoint, tiny_folder, "--knn", "--progress").err
    assert "embedding the bank" in err and " 8/8 " in err  # 16 training images in batches of 2
    assert "embedding the queries" in err and " 4/4 " in err


@pytest.mark.parametrize("flags", [["--no-progress"], [], ["--knn"]], ids=["no-progress", "not-a-terminal", "knn"])
def test_no_bar_with_no_progress_or_when_stderr_is_no_terminal(checkpoint, tiny_folder, flags):
    assert BAR not in evaluate(checkpoint, tiny_folder, *flags).err


def test_the_library_evaluates_silently_unless_asked(checkpoint, tiny_folder, capsys):
    model = load_model(checkpoint)
    evaluate_model(model, str(tiny_folder), batch_size=2)
    assert capsys.readouterr().err == ""
    evaluate_model(model, str(tiny_folder), batch_size=2, progress=True)
    assert BAR in capsys.readouterr().err
