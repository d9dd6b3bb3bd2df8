"""`reslab zoo`: the evolution table, one row per registered milestone, in story order, as Markdown."""
import pytest

from reslab.experiments import evolution
from reslab.bench import BenchSettings
from reslab.cli import main
from reslab.experiments.evolution import MILESTONES, Milestone, evolution_rows, to_markdown
from reslab.complexity import count_params
from reslab.factory import create_model
from reslab.registry import get_preset, list_models


def test_every_registered_milestone_has_a_row_with_its_preset_facts():
    rows, missing = evolution_rows()
    registered = set(list_models())
    assert [r.preset for r in rows] == sorted((m.preset for m in MILESTONES if m.preset in registered),
                                              key=lambda name: get_preset(name).year)
    assert len(rows) + len(missing) == len(MILESTONES)
    resnet = rows[0]
    assert (resnet.milestone, resnet.year, resnet.preset) == ("ResNet", 2015, "resnet50")
    assert resnet.idea == get_preset("resnet50").idea
    assert resnet.params_m == pytest.approx(25.557, abs=0.001)  # torchvision/timm resnet50: 25,557,032
    assert resnet.gmacs == pytest.approx(4.089, abs=0.001)  # paper_table.csv: 4.089 measured on timm


def test_rows_follow_the_years_of_the_story():
    rows, _ = evolution_rows()
    years = [r.year for r in rows]
    assert years == sorted(years)


def test_unregistered_milestones_are_left_out_and_named_on_stderr(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(evolution, "MILESTONES", (Milestone("ResNet", "resnet18"), Milestone("Future", "nonet99")))
    out_file = tmp_path / "zoo.md"
    assert main(["zoo", "--output", str(out_file)]) == 0
    captured = capsys.readouterr()
    assert "not registered yet, left out: Future (nonet99)" in captured.err
    assert "| resnet18 " in captured.out and "nonet99" not in captured.out
    document = out_file.read_text()
    assert document.startswith("# The ResNet family") and "| resnet18 " in document
    assert "Not registered when this table was made: Future (nonet99)" in document


def test_bench_column_holds_measured_throughput():
    milestones = (Milestone("ResNet", "resnet18"), Milestone("CIFAR", "resnet20_cifar"))
    settings = BenchSettings(batch_size=2, img_size=32, repeats=2, warmup=1)
    rows, missing = evolution_rows(settings, milestones)
    assert missing == [] and all(r.images_per_s and r.images_per_s > 0 for r in rows)
    table = to_markdown(rows, settings)
    assert table.splitlines()[0].rstrip().endswith("img/s |")
    assert f"{rows[0].images_per_s:.1f}" in table


def test_markdown_table_has_one_line_per_row_and_the_params_of_the_built_model():
    rows, _ = evolution_rows(milestones=(Milestone("CIFAR", "resnet20_cifar"),))
    lines = to_markdown(rows).splitlines()
    assert len(lines) == 3 and lines[1].startswith("|--")
    assert f"{count_params(create_model('resnet20_cifar')) / 1e6:.1f}" in lines[2]
