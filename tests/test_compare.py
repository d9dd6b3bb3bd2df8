"""`reslab compare`: runs trained by reslab.train, the report's numbers read back from the runs' own logs."""
import csv
import json
import statistics
import sys

import numpy as np
import pytest

import reslab
from reslab.experiments import compare as compare_module
from reslab.cli import main
from reslab.experiments.compare import CompareConfig, CompareError, compare, run_dir
from reslab.complexity import cached_complexity
from reslab.util.progress import Eta, duration
from reslab.weights.loading import load_model

# a one-block-per-stage CIFAR ResNet, one epoch on a 100-image subset of the built-in digits: seconds per run
TINY = "resnet20_cifar:depths=1,1,1"
OPTIONS = {"subset": 100, "batch_size": 25, "val_subset": 100, "workers": 0}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    config = CompareConfig((TINY, f"{TINY}:attention=se"), epochs=1, seeds=2, output=str(out),
                           train_options=OPTIONS, bench_batch_size=4)
    md, page = compare(config, log=lambda m: None)
    return config, md, page


def _log_final(config, model, seed, column) -> float:
    """The run's last logged value of `column` (accuracies are fractions in the log)."""
    with (run_dir(config, model, seed) / "metrics.csv").open() as f:
        return float(list(csv.DictReader(f))[-1][column])


def _log_top1(config, model, seed) -> float:
    return 100 * _log_final(config, model, seed, "val_top1")


def test_report_accuracy_is_the_mean_and_std_of_the_runs_own_logs(comparison):
    config, md, _ = comparison
    text = md.read_text()
    for model in config.models:
        accs = [_log_top1(config, model, seed) for seed in range(config.seeds)]
        row = next(line for line in text.splitlines() if line.startswith(f"| {model} "))
        assert f"{statistics.fmean(accs):.2f} ± {statistics.stdev(accs):.2f}" in row
        for seed, acc in enumerate(accs):
            assert f"| {model} " in text and f"{acc:.2f}" in text  # the per-run table


def test_report_training_error_is_the_mean_of_the_runs_final_train_acc(comparison):
    config, md, _ = comparison
    text = md.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| model "))
    column = [c.strip() for c in header.split("|")].index("train error (%)")
    for model in config.models:
        errors = [100 * (1 - _log_final(config, model, seed, "train_acc")) for seed in range(config.seeds)]
        row = next(line for line in text.splitlines() if line.startswith(f"| {model} "))
        assert row.split("|")[column].strip() == f"{statistics.fmean(errors):.2f}"


def test_report_directory_holds_markdown_html_and_the_figures(comparison):
    config, md, page = comparison
    assert page.name == "report.html" and page.parent == md.parent
    stems = ("accuracy_vs_params", "accuracy_vs_gmacs", "accuracy_vs_throughput", "error_curves", "training_curves")
    for stem in stems:
        assert (md.parent / f"{stem}.png").stat().st_size > 1000
        assert f"({stem}.png)" in md.read_text()
    assert page.read_text().count("data:image/png;base64,") == len(stems)


def test_finished_runs_are_reused_not_trained_again(comparison, monkeypatch):
    config, md, _ = comparison
    before = md.read_text()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(sys.modules["reslab.train"], "train", no_training)  # reslab.train is also the function
    compare(config, log=lambda m: None)
    def accuracies(text):  # model and accuracy cells (img/s is measured afresh each time)
        return [line.split("|")[1:3] for line in text.splitlines() if "±" in line]
    assert accuracies(md.read_text()) == accuracies(before)
    runs = before[before.index("## Runs"):]
    assert md.read_text().endswith(runs)  # per-run accuracy and wall time, unchanged


def test_a_comparison_cut_short_continues_where_it_stopped(comparison, tmp_path):
    config, _, _ = comparison
    # one seed more than before: the old runs are reused, only the new one trains
    trained = []
    more = CompareConfig(config.models[:1], epochs=1, seeds=3, output=config.output, train_options=OPTIONS,
                         bench_batch_size=4)
    compare(more, log=lambda m: trained.append(m) if "training" in m else None)
    assert trained == [f"run 3/3: {TINY} seed 2: training in {run_dir(more, TINY, 2)}"]  # none timed: no estimate


def test_bad_models_fail_before_any_training(capsys, tmp_path):
    with pytest.raises(CompareError, match="named twice"):
        CompareConfig(("resnet20_cifar", "resnet20_cifar"))
    assert main(["compare", "--models", "resnet20_cifar,resnet05", "--output", str(tmp_path)]) == 2
    assert "unknown model 'resnet05'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_the_default_job_is_the_degradation_experiment_of_plain_and_residual_twins():
    plain, residual = compare_module.DEFAULT_MODELS[:2], compare_module.DEFAULT_MODELS[2:]
    for p, r in zip(plain, residual):
        assert [row[0] for row in reslab.spec.spec_diff(reslab.get_spec(r), reslab.get_spec(p))] == ["residual"]
    assert CompareConfig().data is None  # the built-in digits


SMALL18 = "resnet18:depths=1,1,1,1:widths=8,16,32,64:stem_channels=8"  # a 1000-class preset, trained on 10


def test_the_cli_passes_any_training_option_to_every_run_and_reports_the_models_as_trained(tmp_path, capsys):
    """`reslab compare --optimizer adamw --lr ...` trains every model and seed with them (what each run recorded),
    and the report's parameter column counts the trained model (a 10-class head), not the 1000-class preset."""
    args = ["compare", "--models", f"{TINY},{SMALL18}", "--epochs", "1", "--seeds", "1", "--img-size", "32",
            "--subset", "50", "--val-subset", "50", "--batch-size", "25", "--workers", "0",
            "--optimizer", "adamw", "--lr", "0.002", "--weight-decay", "0.05", "--schedule", "cosine",
            "--output", str(tmp_path), "--progress"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert f"run 1/2: {TINY} seed 0: training in" in out and "run 2/2 (about " in out
    assert "img/s eta" in err  # --progress: each run's progress bar (off by default when stderr is no terminal)
    config = CompareConfig((TINY, SMALL18), epochs=1, seeds=1, output=str(tmp_path),
                           train_options={"img_size": 32, "subset": 50, "val_subset": 50, "batch_size": 25,
                                          "workers": 0, "optimizer": "adamw", "lr": 0.002, "weight_decay": 0.05,
                                          "schedule": "cosine"})
    report, cells = (tmp_path / "report.md").read_text(), {}
    for model in config.models:  # the same settings give the same run folder: the CLI passed exactly these
        recorded = json.loads((run_dir(config, model, 0) / "config.json").read_text())
        assert (recorded["optimizer"], recorded["lr"], recorded["weight_decay"], recorded["schedule"]) == \
            ("adamw", 0.002, 0.05, "cosine")
        assert recorded["progress"] is True
        trained = load_model(run_dir(config, model, 0) / "last.safetensors")
        params = sum(p.numel() for p in trained.parameters())
        row = next(line for line in report.splitlines() if line.startswith(f"| {model} "))
        cells[model] = [c.strip() for c in row.split("|")]
        assert f"{params / 1e6:.3f}" in cells[model]
    preset_params = sum(p.numel() for p in reslab.create_model(SMALL18.split(":")[0], depths=(1, 1, 1, 1),
                        widths=(8, 16, 32, 64), stem_channels=8).parameters())
    assert f"{preset_params / 1e6:.3f}" not in cells[SMALL18]  # 1000 classes: 55,000 more parameters
    with pytest.raises(SystemExit) as exit_:  # argparse's one-line usage error
        main(["compare", "--models", TINY, "--no-such-option", "1", "--output", str(tmp_path)])
    assert exit_.value.code == 2 and "--no-such-option" in capsys.readouterr().err


def test_each_run_is_announced_with_the_time_left_weighted_by_model_cost(monkeypatch, tmp_path):
    models = ("resnet20_cifar", "resnet56_cifar")  # 41 and 126 MMACs
    mmacs = {m: cached_complexity(reslab.get_spec(m))[1] / 1e6 for m in models}
    clock = [0.0]

    def run(config, model, seed, log):  # a run takes one second per million MACs
        log(f"{model} seed {seed}: training")
        clock[0] += mmacs[model]

    monkeypatch.setattr(compare_module, "_finished_or_trained", run)
    monkeypatch.setattr(compare_module, "time", type("Clock", (), {"perf_counter": staticmethod(lambda: clock[0])}))
    lines = []
    compare_module._run_all(CompareConfig(models, seeds=2, output=str(tmp_path)), lines.append)
    small, large = mmacs["resnet20_cifar"], mmacs["resnet56_cifar"]
    assert lines[:4] == ["run 1/4: resnet20_cifar seed 0: training",  # nothing timed yet
                         f"run 2/4 (about {duration(small + 2 * large)} left): resnet20_cifar seed 1: training",
                         f"run 3/4 (about {duration(2 * large)} left): resnet56_cifar seed 0: training",
                         f"run 4/4 (about {duration(large)} left): resnet56_cifar seed 1: training"]
    assert lines[4] == f"4 runs, 4 trained from the start ({duration(2 * small + 2 * large)})"


def test_the_estimate_leaves_out_runs_that_were_not_timed():
    eta = Eta([1, 1, 2, 4])
    eta.finished(None)  # reused: done in no time, says nothing about the rate
    assert eta.left() is None
    eta.finished(10.0)
    assert eta.left() == 60.0  # 10 s per unit of cost, 6 units to go
    assert duration(59.6) == "1 min 00 s" and duration(3725) == "1 h 02 min"


def test_one_seed_shows_no_spread_and_close_models_keep_their_names_apart():
    from reslab.report import Comparison, ModelSummary, RunRecord
    from reslab.report.plots import accuracy_vs, label_offsets

    one = ModelSummary("a", [RunRecord("a", 0, "runs/a", 71.25, 3.0)], 0.27, 0.04, 900.0)
    twin = ModelSummary("a:attention=se", [RunRecord("a:attention=se", 0, "runs/b", 71.3, 3.0)], 0.28, 0.04, 850.0)
    far = ModelSummary("c", [RunRecord("c", 0, "runs/c", 90.0, 3.0)], 5.0, 1.0, 100.0)
    comparison = Comparison("t", [one, twin, far], {}, "cpu")
    assert comparison.table()[1][0][1] == "71.25 ± -"  # not '± 0.00': one seed measures no spread
    offsets = label_offsets(np.array([0.27, 0.28, 5.0]), np.array([71.25, 71.3, 90.0]))
    assert offsets[0] != offsets[1] and offsets[2] == offsets[0]  # the twins apart; the far one in the usual place
    assert accuracy_vs(comparison, "params", lambda m: m.params_m).startswith(b"\x89PNG")
