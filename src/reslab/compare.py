"""Compare models: train each under the same recipe, budget and seeds, then report them side by side.

Every run is the training engine's own (`reslab.train`), in OUTPUT/runs/<model>/seed<k>; the report reads
its numbers back from those runs' logs. A run that finished is reused, so an interrupted comparison continues.
"""
from __future__ import annotations

import csv
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .bench import BenchSettings, run_bench
from .errors import ReslabError
from .info import cached_complexity
from .report import Comparison, ModelSummary, RunRecord, write_report
from .variant import parse_variant, slug, variant_spec

# three small CIFAR-style models that train on the built-in digits in a few minutes on 2 CPU cores:
# depth (20 vs 32 layers) and channel attention (SE) on the same body
DEFAULT_MODELS = ("resnet20_cifar", "resnet32_cifar", "resnet20_cifar:attention=se")
DONE_FILE = "compare.json"  # written beside a run once it has finished: its wall time and what it was


class CompareError(ReslabError, ValueError):
    """A comparison that cannot run as asked."""


@dataclass(frozen=True)
class CompareConfig:
    models: tuple[str, ...] = DEFAULT_MODELS
    data: str | None = None  # None: the built-in digits
    recipe: str = "cifar"
    epochs: int = 5
    seeds: int = 3
    output: str = "runs/compare"
    train_options: dict = field(default_factory=dict)  # further TrainConfig fields, the same for every run
    bench_batch_size: int = 32

    def __post_init__(self) -> None:
        if not self.models:
            raise CompareError("name at least one model to compare")
        if len(set(self.models)) != len(self.models):
            raise CompareError(f"a model is named twice in {list(self.models)}")
        if self.seeds < 1 or self.epochs < 1:
            raise CompareError(f"seeds and epochs must be at least 1, got seeds={self.seeds}, epochs={self.epochs}")
        for name in self.models:
            variant_spec(name)  # unknown presets and bad overrides fail before any training


def run_dir(config: CompareConfig, model: str, seed: int) -> Path:
    return Path(config.output) / "runs" / slug(model) / f"seed{seed}"


def compare(config: CompareConfig = CompareConfig(), log: Callable[[str], None] = print) -> tuple[Path, Path]:
    """Train what is missing, measure each model, write the report; return (report.md, report.html)."""
    records: dict[str, list[RunRecord]] = {}
    for model in config.models:
        for seed in range(config.seeds):
            records.setdefault(model, []).append(_finished_or_trained(config, model, seed, log))
    summaries = [_summarise(config, model, runs) for model, runs in records.items()]
    comparison = Comparison(
        f"Comparison: {', '.join(config.models)}", summaries,
        {"data": config.data or "digits (built-in)", "recipe": config.recipe, "epochs": config.epochs,
         "seeds": config.seeds, **config.train_options},
        _machine())
    return write_report(comparison, Path(config.output), CURVE_COLUMNS)


# --- the training engine's side: its run directory, its per-epoch log ---------------------------------------
LOG_FILE = "metrics.csv"  # written by reslab.train, one row per epoch
RESUMABLE_FILE = "state.pt"  # reslab.train's resumable state
ACCURACY_COLUMN = "val_top1"  # a fraction in the log; the report shows percent
CURVE_COLUMNS = ("val_top1", "train_loss")


def _finished_or_trained(config: CompareConfig, model: str, seed: int, log) -> RunRecord:
    directory = run_dir(config, model, seed)
    done = directory / DONE_FILE
    if done.exists():
        log(f"{model} seed {seed}: reusing the finished run in {directory}")
        wall_s = json.loads(done.read_text())["wall_s"]
    else:
        from .train import from_recipe, train

        name, overrides = parse_variant(model)
        resume = (directory / RESUMABLE_FILE).exists()
        log(f"{model} seed {seed}: {'resuming' if resume else 'training'} in {directory}")
        if resume:
            result = train(from_recipe(config.recipe, resume=str(directory), progress=False))
        else:
            result = train(from_recipe(config.recipe, model=name, spec=overrides, data=config.data,
                                       epochs=config.epochs, seed=seed, output=str(directory), progress=False,
                                       tensorboard=False, **config.train_options))
        if result.stopped:
            raise CompareError(f"{model} seed {seed} stopped early ({result.stopped}); run the comparison again "
                               "to resume it")
        wall_s = result.wall_s
        done.write_text(json.dumps({"model": model, "seed": seed, "wall_s": wall_s}))
    rows = _log_rows(directory)
    curve = {c: [float(r[c]) for r in rows if r.get(c) not in (None, "")] for c in CURVE_COLUMNS}
    return RunRecord(model, seed, str(directory), 100 * float(rows[-1][ACCURACY_COLUMN]), wall_s, curve)


def _log_rows(directory: Path) -> list[dict]:
    path = directory / LOG_FILE
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        raise CompareError(f"{directory}: the run has no training log {LOG_FILE}; delete the directory to "
                           "train it again") from None
    if not rows or ACCURACY_COLUMN not in rows[-1]:
        raise CompareError(f"{path}: no {ACCURACY_COLUMN!r} column to read the accuracy from")
    return rows


def _summarise(config: CompareConfig, model: str, runs: list[RunRecord]) -> ModelSummary:
    spec = variant_spec(model)
    params, macs = cached_complexity(spec)
    bench = BenchSettings("cpu", config.bench_batch_size, repeats=10, warmup=2)
    (result,) = run_bench([model], bench).results
    return ModelSummary(model, runs, params / 1e6, macs / 1e9, result.images_per_s)


def _machine() -> str:
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads{gpu}; torch {torch.__version__}"
