"""The evolution table: one row per milestone of the ResNet story, what idea it added and what it costs."""
from __future__ import annotations

from dataclasses import dataclass

from ..bench import BenchSettings, run_bench
from ..complexity import cached_complexity
from ..registry import get_preset, list_models
from ..util.table import format_table


@dataclass(frozen=True)
class Milestone:
    label: str
    preset: str  # the preset that stands for it, at its usual (about 50-layer) size


# the story in order; rows whose preset is not registered (yet) are left out and reported
MILESTONES = (
    Milestone("ResNet", "resnet50"),
    Milestone("Pre-activation ResNet", "preactresnet34"),
    Milestone("Wide ResNet", "wide_resnet50_2"),
    Milestone("DenseNet", "densenet121"),
    Milestone("ResNeXt", "resnext50_32x4d"),
    Milestone("SE-ResNet", "seresnet50"),
    Milestone("ResNet-B", "resnet50b"),
    Milestone("ResNet-C", "resnet50c"),
    Milestone("ResNet-D", "resnet50d"),
    Milestone("SKNet", "skresnext50_32x4d"),
    Milestone("Res2Net", "res2net50_26w_4s"),
    Milestone("RegNetY", "regnety_040"),
    Milestone("ResNeSt", "resnest50d"),
    Milestone("TResNet", "tresnet_m"),
    Milestone("ResNet-RS", "resnetrs50"),
)


@dataclass
class EvolutionRow:
    milestone: str
    preset: str
    year: int
    paper: str
    idea: str
    params_m: float
    gmacs: float
    input_size: int
    images_per_s: float | None = None


def evolution_rows(bench: BenchSettings | None = None, milestones: tuple[Milestone, ...] | None = None,
                   ) -> tuple[list[EvolutionRow], list[str]]:
    """(rows of the registered milestones, names of the milestones skipped because their preset is missing).

    With `bench` settings, each row also gets ResLab's measured inference throughput on this machine.
    """
    registered = set(list_models())
    rows, missing = [], []
    for m in MILESTONES if milestones is None else milestones:
        if m.preset not in registered:
            missing.append(f"{m.label} ({m.preset})")
            continue
        preset = get_preset(m.preset)
        params, macs = cached_complexity(preset.spec)
        rows.append(EvolutionRow(m.label, m.preset, preset.year, preset.short_paper, preset.idea,
                                 params / 1e6, macs / 1e9, preset.spec.input_size))
    rows.sort(key=lambda r: r.year)  # stable: same-year milestones keep the story's order
    if bench is not None and rows:
        report = run_bench([r.preset for r in rows], bench)
        for row, result in zip(rows, report.results):
            row.images_per_s = result.images_per_s
    return rows, missing


def to_markdown(rows: list[EvolutionRow], bench: BenchSettings | None = None) -> str:
    headers = ["milestone", "year", "model", "paper", "idea", "params (M)", "GMACs", "input"]
    if bench is not None:
        headers.append("img/s")
    body = []
    for r in rows:
        line = [r.milestone, r.year, r.preset, r.paper, r.idea, f"{r.params_m:.1f}", f"{r.gmacs:.2f}", r.input_size]
        if bench is not None:
            line.append("-" if r.images_per_s is None else f"{r.images_per_s:.1f}")
        body.append(line)
    return format_table(headers, body, markdown=True)
