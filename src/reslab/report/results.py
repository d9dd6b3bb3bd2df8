"""What a comparison measured: one record per training run, and their summary per model over seeds."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

# what the results table's columns mean, under the table in both reports
TABLE_NOTE = ("val top-1: final-epoch validation accuracy of each run, mean ± sample standard deviation over seeds "
              "(- for one seed: no spread measured). train error: final-epoch training top-1 error (over that "
              "epoch's batches, with augmentation), mean over seeds. img/s: inference throughput, measured once per "
              "model on this machine after the training (a machine busy with other work measures less). "
              "train time: mean wall time of one run.")


@dataclass
class RunRecord:
    """One finished training run, as its own log reports it."""

    model: str
    seed: int
    run_dir: str
    top1: float  # final validation top-1 accuracy, percent
    wall_s: float  # training wall time
    curve: dict[str, list[float]] = field(default_factory=dict)  # per-epoch columns of the run's CSV log


@dataclass
class ModelSummary:
    """A model over its seeds, with its size and measured speed."""

    model: str
    runs: list[RunRecord]
    params_m: float
    gmacs: float
    images_per_s: float  # inference throughput on the comparison's machine

    @property
    def top1_mean(self) -> float:
        return statistics.fmean(r.top1 for r in self.runs)

    @property
    def top1_std(self) -> float | None:
        """Sample standard deviation over seeds (None for a single seed: no spread was measured)."""
        return statistics.stdev([r.top1 for r in self.runs]) if len(self.runs) > 1 else None

    @property
    def train_error_mean(self) -> float | None:
        """Final-epoch training top-1 error (%), mean over the seeds that logged train_acc; None if none did."""
        errors = [100 * (1 - r.curve["train_acc"][-1]) for r in self.runs if r.curve.get("train_acc")]
        return statistics.fmean(errors) if errors else None

    @property
    def wall_s_mean(self) -> float:
        return statistics.fmean(r.wall_s for r in self.runs)


@dataclass
class Comparison:
    """Everything a report shows: the models, the shared training settings, the machine."""

    title: str
    models: list[ModelSummary]
    settings: dict  # recipe, epochs, data, seeds ... as plain values
    machine: str
    note: str = ""  # how to read this comparison, printed under the title when not empty

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the results table, shared by the Markdown and HTML reports."""
        # the training error beside the validation accuracy: the degradation problem is seen in training error
        headers = ["model", "val top-1 % (mean ± std)", "train error (%)", "seeds", "params (M)", "GMACs", "img/s",
                   "train time (s)"]
        rows = [[m.model, f"{m.top1_mean:.2f} ± {_percent(m.top1_std)}", _percent(m.train_error_mean), len(m.runs),
                 f"{m.params_m:.3f}", f"{m.gmacs:.3f}", f"{m.images_per_s:.0f}", f"{m.wall_s_mean:.1f}"]
                for m in self.models]
        return headers, rows

    def run_table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the per-run table: every number the summary was computed from."""
        headers = ["model", "seed", "top-1 %", "train time (s)", "run directory"]
        rows = [[r.model, r.seed, f"{r.top1:.2f}", f"{r.wall_s:.1f}", r.run_dir] for m in self.models for r in m.runs]
        return headers, rows


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"  # one seed has no spread; older runs logged no training accuracy
