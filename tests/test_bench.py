"""`reslab bench`: timed steps after warm-up, median and spread, memory, ratios against timm/torchvision."""
import csv
import json

import pytest
import torch

from reslab.bench import BenchError, BenchSettings, Candidate, ResidentPeak, make_step, run_bench
from reslab.cli import main
from reslab.factory import create_model

TINY = dict(batch_size=2, img_size=32, repeats=3, warmup=1)


def test_latency_statistics_are_ordered_and_throughput_is_batch_over_median():
    report = run_bench(["resnet20_cifar"], BenchSettings(**{**TINY, "repeats": 5}))
    (r,) = report.results
    assert r.latency_ms_min <= r.latency_ms_q1 <= r.latency_ms <= r.latency_ms_q3 <= r.latency_ms_max
    assert r.images_per_s == pytest.approx(2 / (r.latency_ms / 1000))
    assert r.impl == "reslab" and r.mode == "infer" and r.ratio is None
    assert r.params_m == pytest.approx(0.27, abs=0.005)  # He et al. 2015 Table 6: 0.27M


def test_against_timm_and_torchvision_measures_the_same_model_and_their_ratio():
    report = run_bench(["resnet18"], BenchSettings(**TINY), against=("timm", "torchvision"))
    ours, timm_row, tv_row = report.results
    assert [r.impl for r in report.results] == ["reslab", "timm", "torchvision"]
    # oracle: the same design has the same parameters and multiply-accumulates in all three libraries
    assert ours.params_m == timm_row.params_m == tv_row.params_m
    assert ours.gmacs == pytest.approx(timm_row.gmacs) and ours.gmacs == pytest.approx(tv_row.gmacs)
    assert timm_row.ratio == pytest.approx(ours.images_per_s / timm_row.images_per_s)
    assert tv_row.ratio == pytest.approx(ours.images_per_s / tv_row.images_per_s)


def test_paired_ratio_compares_steps_within_a_turn_not_the_medians(monkeypatch):
    # ours, theirs: turn 2 was a slow stretch for both; per turn, theirs took 2x, 1x (slowed), 2x ours
    monkeypatch.setattr("reslab.bench.run.time_in_turn", lambda steps, repeats, device: [[10.0, 40.0, 30.0],
                                                                                          [20.0, 40.0, 60.0]])
    ours, theirs = run_bench(["resnet18"], BenchSettings(**TINY), against=("timm",)).results
    assert ours.paired_ratio is None
    assert theirs.ratio == pytest.approx(40 / 30)  # ours: median 30 ms, theirs 40 ms
    assert theirs.paired_ratio == pytest.approx(2.0)  # per-turn ratios 2, 1, 2
    assert theirs.paired_ratio_q1 == pytest.approx(1.5) and theirs.paired_ratio_q3 == pytest.approx(2.0)


def test_models_without_a_counterpart_are_measured_alone_and_the_note_says_why():
    report = run_bench(["resnet20_cifar", "resnet18:attention=se"], BenchSettings(**TINY), against=("timm",))
    assert [r.impl for r in report.results] == ["reslab", "reslab"]
    assert any("resnet20_cifar: timm has no model" in n for n in report.notes)
    assert any("resnet18:attention=se: no timm counterpart" in n for n in report.notes)
    assert report.results[1].params_m > 11.69  # the SE gates were built


def test_both_modes_give_an_infer_and_a_train_row_and_training_needs_more_memory():
    report = run_bench(["resnet20_cifar"], BenchSettings(**{**TINY, "batch_size": 32, "mode": "both"}))
    infer, train = report.results
    assert (infer.mode, train.mode) == ("infer", "train")
    assert train.peak_memory_mb > infer.peak_memory_mb  # saved activations and gradients


def test_train_step_updates_the_weights_and_infer_step_does_not():
    model = create_model("resnet20_cifar")
    candidate = Candidate("reslab", model, 3, 10, 0, 0)
    before = model.fc.weight.detach().clone()
    make_step(candidate, "infer", 32, BenchSettings(**TINY), torch.device("cpu"))()
    assert torch.equal(model.fc.weight, before)
    make_step(candidate, "train", 32, BenchSettings(**TINY), torch.device("cpu"))()
    assert not torch.equal(model.fc.weight, before)


def test_bf16_autocast_and_channels_last_run_on_the_cpu():
    settings = BenchSettings(**TINY, amp="bf16", channels_last=True, mode="both")
    report = run_bench(["resnet18"], settings)
    assert len(report.results) == 2 and all(r.images_per_s > 0 for r in report.results)
    assert report.results[0].amp == "bf16" and report.results[0].channels_last


def test_resident_set_sampler_sees_a_large_allocation():
    with ResidentPeak() as peak:
        block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        del block
    assert peak.growth >= 60 * 2**20


@pytest.mark.parametrize("settings, message", [
    (dict(amp="fp8"), "amp must be one of"),
    (dict(mode="eval"), "mode must be one of"),
    (dict(repeats=0), "repeats must be at least 1"),
    (dict(compile=True, warmup=1), "--compile needs --warmup 2"),
])
def test_bad_settings_are_refused_with_a_clear_error(settings, message):
    with pytest.raises(BenchError, match=message):
        BenchSettings(**settings)


def test_unknown_reference_library_is_refused():
    with pytest.raises(BenchError, match="--against takes timm, torchvision"):
        run_bench(["resnet18"], BenchSettings(**TINY), against=("keras",))


def test_cli_prints_a_table_and_writes_json_and_csv_with_the_same_numbers(tmp_path, capsys):
    out_json, out_csv = tmp_path / "b.json", tmp_path / "b.csv"
    argv = ["bench", "resnet20_cifar", "--batch-size", "2", "--repeats", "2", "--warmup", "1", "--mode", "both",
            "--json", str(out_json), "--csv", str(out_csv)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "img/s" in out and "resnet20_cifar" in out and "resident set" in out
    data = json.loads(out_json.read_text())
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["mode"] for r in data["results"]] == [r["mode"] for r in rows] == ["infer", "train"]
    for j, c in zip(data["results"], rows):
        assert float(c["images_per_s"]) == pytest.approx(j["images_per_s"])
        assert f"{j['images_per_s']:.1f}" in out
    assert data["settings"]["batch_size"] == 2 and data["environment"]["threads"] >= 1


def test_cli_bad_input_exits_2_with_one_line(capsys):
    assert main(["bench", "resnet05"]) == 2
    assert "unknown model 'resnet05'" in capsys.readouterr().err
    assert main(["bench", "resnet18:attention"]) == 2
    assert "must look like field=value" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["bench", "resnet18", "--device", "cuda"]) == 2
        assert "torch sees no CUDA GPU" in capsys.readouterr().err


@pytest.mark.slow
def test_compile_is_paid_for_in_the_warm_up_not_in_the_timed_steps():
    eager = run_bench(["resnet20_cifar"], BenchSettings(**{**TINY, "warmup": 2})).results[0]
    compiled = run_bench(["resnet20_cifar"], BenchSettings(**{**TINY, "warmup": 2, "compile": True})).results[0]
    assert compiled.compiled and not eager.compiled
    assert compiled.warmup_s > 1.0 > eager.warmup_s  # inductor's code generation happens on the first call
    assert compiled.latency_ms_max < compiled.warmup_s * 1000 / 2  # no timed step recompiled


def test_fold_bn_measures_our_folded_model_and_is_refused_for_training():
    report = run_bench(["resnet18"], BenchSettings(**TINY, fold_bn=True), against=("timm",))
    ours, theirs = report.results
    assert ours.fold_bn and not theirs.fold_bn
    assert ours.params_m == theirs.params_m  # the spec's size is reported, not the folded copy's
    with pytest.raises(BenchError, match="--fold-bn is an inference transform"):
        BenchSettings(fold_bn=True, mode="both")
    with pytest.raises(BenchError, match="needs --compile"):
        BenchSettings(compile_mode="reduce-overhead")
