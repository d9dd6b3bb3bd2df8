"""What a benchmark reports: one row per model, implementation and mode, the ratios against ours, the table."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .settings import BenchSettings

MEMORY_MEANING = {
    "cuda": "peak of torch.cuda.max_memory_allocated over the warm-up steps: weights, activations, gradients, "
            "optimiser state",
    "cpu": "peak growth of the process's resident set over the warm-up steps, above its level before them, "
           "sampled every millisecond: activations, gradients, optimiser state (the weights are already resident)",
}


@dataclass
class BenchResult:
    model: str
    impl: str  # reslab, timm or torchvision
    mode: str  # infer or train
    device: str
    batch_size: int
    img_size: int
    amp: str
    channels_last: bool
    compiled: bool
    fold_bn: bool
    images_per_s: float
    latency_ms: float  # median over the timed repeats
    latency_ms_q1: float
    latency_ms_q3: float
    latency_ms_min: float
    latency_ms_max: float
    peak_memory_mb: float
    params_m: float
    gmacs: float  # per image at img_size
    warmup_s: float  # the warm-up steps, compilation included
    ratio: float | None = None  # on reference rows: ResLab's images/s over this implementation's
    # on reference rows: this implementation's step time over ResLab's in the same turn, median and quartiles
    # over the turns; a slow stretch of a shared machine hits both steps of a turn, so this spread is the noise
    # that a difference has to clear
    paired_ratio: float | None = None
    paired_ratio_q1: float | None = None
    paired_ratio_q3: float | None = None


@dataclass
class BenchReport:
    settings: BenchSettings
    results: list[BenchResult]
    notes: list[str] = field(default_factory=list)  # what was skipped and why
    environment: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"settings": dataclasses.asdict(self.settings), "environment": self.environment,
                "memory": MEMORY_MEANING[self.settings.device], "notes": self.notes,
                "results": [dataclasses.asdict(r) for r in self.results]}


def set_ratios(results: list[BenchResult], times: list[list[float]]) -> None:
    """Fill in the ratios of the reference rows (all but the first, ours) from the step times taken in turn."""
    ours = results[0].images_per_s
    for r, ms in zip(results[1:], times[1:]):
        r.ratio = ours / r.images_per_s
        q1, median, q3 = np.percentile(np.asarray(ms) / np.asarray(times[0]), [25, 50, 75])
        r.paired_ratio, r.paired_ratio_q1, r.paired_ratio_q3 = float(median), float(q1), float(q3)


HEADERS = ["model", "impl", "mode", "batch", "img/s", "latency ms", "IQR ms", "peak MB", "params M", "GMACs",
           "ours/theirs", "paired (IQR)"]


def table_rows(results: list[BenchResult]) -> list[list]:
    return [[r.model, r.impl + (" (fold_bn)" if r.fold_bn else ""), r.mode, r.batch_size, f"{r.images_per_s:.1f}",
             f"{r.latency_ms:.2f}", f"{r.latency_ms_q1:.2f}-{r.latency_ms_q3:.2f}", f"{r.peak_memory_mb:.0f}",
             f"{r.params_m:.2f}", f"{r.gmacs:.3f}", "" if r.ratio is None else f"{r.ratio:.2f}",
             "" if r.paired_ratio is None else
             f"{r.paired_ratio:.2f} ({r.paired_ratio_q1:.2f}-{r.paired_ratio_q3:.2f})"] for r in results]
