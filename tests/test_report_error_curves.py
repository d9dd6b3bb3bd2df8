"""The report's top-1 error figure, as He et al. 2015 draw it (Fig. 6): training error thin, validation error bold,
100 * (1 - accuracy) from the runs' own metrics.csv; and the training error in the results table."""
import json
from types import SimpleNamespace

import pytest

import reslab
from reslab.experiments import compare as compare_module
from reslab.experiments.compare import CompareConfig, compare, run_dir, settings_dir
from reslab.report import Comparison, ModelSummary, RunRecord, error_curves, write_report
from reslab.report.plots import ERROR_CURVES_NOTE

TINY = "resnet20_cifar:depths=1,1,1:widths=4,8,16:stem_channels=4"  # summarised in about a second


def _summary(model, curves) -> ModelSummary:
    """One model whose runs logged `curves` (one dict of per-epoch columns per seed)."""
    runs = [RunRecord(model, seed, f"runs/{model}/seed{seed}", 100 * curve["val_top1"][-1], 5.0, curve)
            for seed, curve in enumerate(curves)]
    return ModelSummary(model, runs, 0.1, 0.01, 100.0)


def _comparison(*models, note="") -> Comparison:
    return Comparison("errors", list(models), {"epochs": 3}, "2-core CPU", note)


def _train_error_cells(markdown: str) -> dict[str, str]:
    """model -> its "train error (%)" cell, from report.md's results table (the rows with a mean ± std)."""
    rows = [line.split("|") for line in markdown.splitlines() if line.startswith("| ") and "±" in line]
    return {cells[1].strip(): cells[3].strip() for cells in rows[1:]}  # rows[0]: the header


def test_error_is_100_times_one_minus_the_accuracy_mean_over_seeds():
    m = _summary("a", [{"train_acc": [0.5, 0.7, 0.9], "val_top1": [0.4, 0.6, 0.8]},
                       {"train_acc": [0.3, 0.5, 0.7], "val_top1": [0.6, 0.6, 0.7]}])
    (curve,) = error_curves(_comparison(m))
    assert curve.model == "a" and curve.seeds == 2
    assert curve.train == pytest.approx([60.0, 40.0, 20.0])  # mean of 50/30, 30/50, 10/30
    assert curve.val == pytest.approx([50.0, 40.0, 25.0])  # mean of 60/40, 40/40, 20/30
    assert curve.val_min == pytest.approx([40.0, 40.0, 20.0])
    assert curve.val_max == pytest.approx([60.0, 40.0, 30.0])


def test_one_curve_per_model_in_the_comparisons_order():
    a = _summary("a", [{"train_acc": [0.9], "val_top1": [0.8]}])
    b = _summary("b", [{"train_acc": [0.75], "val_top1": [0.5]}])
    curves = error_curves(_comparison(a, b))
    assert [c.model for c in curves] == ["a", "b"]
    assert curves[1].train == pytest.approx([25.0]) and curves[1].val == pytest.approx([50.0])


def test_a_run_cut_short_gives_the_epochs_all_seeds_have():
    m = _summary("a", [{"train_acc": [0.5, 0.6, 0.7], "val_top1": [0.5, 0.6, 0.7]},
                       {"train_acc": [0.5, 0.8], "val_top1": [0.5, 0.8]}])
    (curve,) = error_curves(_comparison(m))
    assert curve.train == pytest.approx([50.0, 30.0]) and curve.val == pytest.approx([50.0, 30.0])


def test_runs_without_train_acc_draw_the_validation_error_only():
    old = _summary("old", [{"val_top1": [0.5, 0.75], "train_loss": [1.0, 0.5]}])
    (curve,) = error_curves(_comparison(old))
    assert curve.train == [] and curve.val == pytest.approx([50.0, 25.0])


def test_reports_show_the_figure_with_how_to_read_it_and_the_training_error(tmp_path):
    new = _summary("new", [{"train_acc": [0.6, 0.9], "val_top1": [0.5, 0.8]},
                           {"train_acc": [0.6, 0.8], "val_top1": [0.5, 0.7]}])
    old = _summary("old", [{"val_top1": [0.5, 0.75]}])
    md, page = write_report(_comparison(new, old), tmp_path, ("train_loss",))
    text, html = md.read_text(), page.read_text()
    assert (tmp_path / "error_curves.png").stat().st_size > 1000
    assert f"![error curves](error_curves.png)\n\n{ERROR_CURVES_NOTE}" in text
    assert 'alt="error_curves"' in html and ERROR_CURVES_NOTE.replace("'", "&#x27;") in html
    header = next(line for line in text.splitlines() if line.startswith("| model "))
    assert "| train error (%) |" in header
    assert header.index("val top-1") < header.index("train error")  # beside the validation accuracy
    assert _train_error_cells(text) == {"new": "15.00", "old": "-"}  # mean of 10 and 20; old: no train_acc
    assert "<td>15.00</td>" in html


def test_a_note_is_printed_under_the_title_only_when_given(tmp_path):
    m = _summary("a", [{"train_acc": [0.9], "val_top1": [0.8]}])
    md, page = write_report(_comparison(m, note="Read the <bold> lines."), tmp_path / "with", ())
    assert md.read_text().startswith("# errors\n\nRead the <bold> lines.\n\n")
    assert "</h1>\n<p>Read the &lt;bold&gt; lines.</p>" in page.read_text()
    md, page = write_report(_comparison(m), tmp_path / "without", ())
    assert md.read_text().startswith("# errors\n\nSame training settings")


def test_the_note_is_not_a_setting_so_runs_are_kept(tmp_path):
    plain = CompareConfig((TINY,), epochs=1, seeds=1, output=str(tmp_path))
    noted = CompareConfig((TINY,), epochs=1, seeds=1, output=str(tmp_path), note="how to read this")
    assert settings_dir(noted, TINY) == settings_dir(plain, TINY)


def _fake_run(config, model, seed, metrics_csv: str) -> None:
    """A finished run as `reslab compare` leaves it, with a hand-written log (and untrained weights): nothing
    trains."""
    from reslab.variant import parse_variant

    directory = run_dir(config, model, seed)
    directory.mkdir(parents=True)
    name, overrides = parse_variant(model)
    reslab.save_weights(reslab.create_model(name, **overrides), directory / "last.safetensors")
    (directory / "metrics.csv").write_text(metrics_csv)
    (directory / "compare.json").write_text(json.dumps({"seed": seed, "wall_s": 1.0}))


def test_compare_reads_train_acc_from_the_logs_and_old_logs_without_it_still_report(tmp_path, monkeypatch):
    # the logs are what is tested here; a measured throughput would only take time
    monkeypatch.setattr(compare_module, "run_bench",
                        lambda models, settings: SimpleNamespace(results=[SimpleNamespace(images_per_s=100.0)]))
    config = CompareConfig((TINY, f"{TINY}:attention=se"), epochs=2, seeds=2, output=str(tmp_path),
                           bench_batch_size=2, note="thin: training; bold: validation")
    new_header = "epoch,train_loss,train_acc,val_top1,val_top5,val_loss,lr\n"
    _fake_run(config, TINY, 0, new_header + "1,2.0,0.40,0.50,0.9,1.5,0.1\n2,1.0,0.70,0.60,0.95,1.2,0.1\n")
    _fake_run(config, TINY, 1, new_header + "1,2.0,0.20,0.30,0.9,1.5,0.1\n2,1.0,0.90,0.80,0.95,1.2,0.1\n")
    old_log = "epoch,train_loss,val_top1,lr\n1,2.0,0.5,0.1\n2,1.0,0.75,0.1\n"  # older: no train_acc, no val_loss
    for seed in range(2):
        _fake_run(config, f"{TINY}:attention=se", seed, old_log)
    md, page = compare(config, log=lambda m: None)
    text = md.read_text()
    assert _train_error_cells(text) == {TINY: "20.00", f"{TINY}:attention=se": "-"}  # mean of 30 and 10
    assert text.startswith("# Comparison") and "\n\nthin: training; bold: validation\n\n" in text
    assert "(error_curves.png)" in text and page.read_text().count("data:image/png;base64,") == 5
    assert json.loads((settings_dir(config, TINY) / "settings.json").read_text()).get("note") is None
