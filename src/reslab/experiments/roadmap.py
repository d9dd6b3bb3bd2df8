"""A paper's walk through a design space as a table: one row per step preset, what changed against the step
before (`spec_diff`), the step's size, cost and measured speed, and the accuracy the paper reports for it."""
from __future__ import annotations

from dataclasses import dataclass

from ..bench import BenchSettings, run_bench
from ..complexity import cached_complexity
from ..errors import ReslabError
from ..registry import list_presets
from ..spec import spec_diff
from ..util.table import format_table

# family -> the preset-name pattern of its roadmap; the names sort in the order of the walk
ROADMAPS = {"convnext": "convnext_roadmap_*"}


class RoadmapError(ReslabError, ValueError):
    """A roadmap that does not exist."""


@dataclass
class RoadmapRow:
    preset: str
    change: str  # the step's idea, in one line
    fields: list[str]  # spec fields that differ from the step before
    params_m: float
    gmacs: float  # at the spec's input size, so comparable with the paper's
    top1_paper: float | None
    gmacs_paper: float | None
    infer_img_s: float | None = None
    train_img_s: float | None = None


def roadmap_rows(family: str, bench: BenchSettings | None = None) -> list[RoadmapRow]:
    """The steps of `family`'s roadmap in order; with `bench`, also inference and training images/s (bench.mode
    is taken as "both")."""
    if family not in ROADMAPS:
        raise RoadmapError(f"no roadmap for {family!r}; roadmaps: {', '.join(sorted(ROADMAPS))}")
    rows, previous = [], None
    for preset in list_presets(ROADMAPS[family]):
        params, macs = cached_complexity(preset.spec)
        fields = [name for name, _, _ in spec_diff(previous, preset.spec)] if previous is not None else []
        rows.append(RoadmapRow(preset.name, preset.idea, fields, params / 1e6, macs / 1e9, preset.top1_paper,
                               preset.gmacs_paper))
        previous = preset.spec
    if bench is not None:
        settings = BenchSettings(bench.device, bench.batch_size, bench.img_size, mode="both", repeats=bench.repeats,
                                 warmup=bench.warmup)
        speed = {(r.model, r.mode): r.images_per_s for r in run_bench([r.preset for r in rows], settings).results}
        for row in rows:
            row.infer_img_s, row.train_img_s = speed.get((row.preset, "infer")), speed.get((row.preset, "train"))
    return rows


def to_markdown(rows: list[RoadmapRow], bench: bool = False) -> str:
    headers = ["step", "change", "fields changed", "params (M)", "GMACs", "paper GFLOPs", "paper top-1"]
    if bench:
        headers += ["infer img/s", "train img/s"]
    body = []
    for i, r in enumerate(rows):
        line = [f"{i:02d} {r.preset}", r.change, ", ".join(r.fields) or "-", f"{r.params_m:.2f}", f"{r.gmacs:.2f}",
                _num(r.gmacs_paper, 1), _num(r.top1_paper, 1)]
        if bench:
            line += [_num(r.infer_img_s, 1), _num(r.train_img_s, 1)]
        body.append(line)
    return format_table(headers, body, markdown=True)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def plot_png(rows: list[RoadmapRow], family: str) -> bytes:
    """Paper top-1 against ResLab-counted GMACs, the steps joined in order and numbered."""
    from matplotlib.figure import Figure  # here, not at import: commands that draw nothing start faster

    from ..report.plots import figure_png

    shown = [(i, r) for i, r in enumerate(rows) if r.top1_paper is not None]
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    ax.plot([r.gmacs for _, r in shown], [r.top1_paper for _, r in shown], "-o", color="tab:blue")
    for i, r in shown:
        ax.annotate(f"{i:02d}", (r.gmacs, r.top1_paper), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("GMACs per 224 px image (counted by ResLab)")
    ax.set_ylabel("ImageNet top-1 reported by the paper (%)")
    ax.set_title(f"{family} roadmap, step by step")
    ax.grid(alpha=0.3)
    return figure_png(fig)
