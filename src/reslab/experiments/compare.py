"""Compare models: train each under the same recipe, budget and seeds, then report them side by side.

Every run is the training engine's own (`reslab.train`), in OUTPUT/runs/<model>/<settings>/seed<k>, where
<settings> is a short hash of everything that determines the runs (model and overrides, data, recipe, epochs,
training options); the report reads its numbers back from those runs' logs. A finished run with the same
settings is reused and a stopped one resumed, so an interrupted comparison continues; changed settings train
afresh beside the old runs, which are kept.
"""
from __future__ import annotations

import dataclasses
import contextlib
import csv
import hashlib
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..bench import BenchSettings, run_bench
from ..choices import COMPARE_MODELS
from ..data import DEFAULT_DATASET
from ..errors import ReslabError
from ..util.files import check_writable_folder, save_or_explain
from ..util.progress import Eta, duration
from ..complexity import cached_complexity
from ..report import Comparison, ModelSummary, RunRecord, write_report
from ..train.rundir import METRICS as LOG_FILE, STATE, WEIGHTS  # what reslab.train writes in a run directory
from ..variant import parse_variant, slug, variant_spec

DEFAULT_MODELS = COMPARE_MODELS  # the default job: the degradation problem (choices.py)
DEFAULT_NOTE = ("How to read this: He et al. (2015) found that a deeper plain network trains worse (plain-56 ends "
                "with a higher training error than plain-20) while shortcuts let the deeper network train at least as "
                "well (ResNet-56 vs ResNet-20). Compare the train error column and the thin curves, against the spread "
                "over seeds. At this budget (5 epochs, about 110 steps on 1,437 digits) nothing has converged: the "
                "plain-net gap is the degradation problem, but both 56-layer nets are still far behind, since depth "
                "needs more steps than this to get going; benchmarks/RESULTS.md has a longer run on CIFAR-10.")
DONE_FILE = "compare.json"  # written in a run once it has finished: its wall time and its seed
SETTINGS_FILE = "settings.json"  # beside the seeds of one settings hash: what they were trained with
NOT_SETTINGS = ("stop_after_steps", "overwrite")  # training options that change nothing a run computes


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
    note: str = ""  # "how to read this", printed under the report's title; not a setting (trains nothing else)
    progress: bool = False  # each run's progress bar (train's); not a setting either

    def __post_init__(self) -> None:
        if not self.models:
            raise CompareError("name at least one model to compare")
        if self.seeds < 1 or self.epochs < 1:
            raise CompareError(f"seeds and epochs must be at least 1, got seeds={self.seeds}, epochs={self.epochs}")
        specs = [variant_spec(name) for name in self.models]  # unknown presets and bad overrides fail first
        for i, (name, spec) in enumerate(zip(self.models, specs)):
            twin = next((other for other, s in zip(self.models[:i], specs) if s == spec), None)
            if twin is not None:
                what = "is named twice" if twin == name else f"is the same model as {twin}"
                raise CompareError(f"{name} {what} in --models; name each model once")


def run_settings(config: CompareConfig, model: str) -> dict:
    """Everything that determines `model`'s runs but the seed, as JSON values (what settings.json holds)."""
    name, overrides = parse_variant(model)
    data = None if config.data in (None, DEFAULT_DATASET) else str(Path(config.data).resolve())
    options = {k: v for k, v in config.train_options.items() if k not in NOT_SETTINGS}
    settings = {"model": name, "spec": overrides, "data": data, "recipe": config.recipe, "epochs": config.epochs,
                **options}
    return json.loads(json.dumps(settings, sort_keys=True))  # tuples as lists, as they read back


def settings_dir(config: CompareConfig, model: str) -> Path:
    key = json.dumps(run_settings(config, model), sort_keys=True)
    return Path(config.output) / "runs" / slug(model) / hashlib.sha256(key.encode()).hexdigest()[:8]


def run_dir(config: CompareConfig, model: str, seed: int) -> Path:
    return settings_dir(config, model) / f"seed{seed}"


def compare(config: CompareConfig = CompareConfig(), log: Callable[[str], None] = print) -> tuple[Path, Path]:
    """Train what is missing, measure each model, write the report; return (report.md, report.html)."""
    check_writable_folder(Path(config.output), CompareError)  # before hours of training, not after
    for model in config.models:
        _train_config(config, model, seed=0)  # a bad recipe or training option fails before any training
    records = _run_all(config, log)
    summaries = [_summarise(config, model, runs) for model, runs in records.items()]
    comparison = Comparison(
        f"Comparison: {', '.join(config.models)}", summaries,
        {"data": config.data or "digits (built-in)", "recipe": config.recipe, "epochs": config.epochs,
         "seeds": config.seeds, **config.train_options},
        _machine(), " ".join(filter(None, [config.note, AUDIO_NOTE if _audio_data(config) else ""])))
    return write_report(comparison, Path(config.output), CURVE_COLUMNS)


def _run_all(config: CompareConfig, log) -> dict[str, list[RunRecord]]:
    """Every model and seed, reused or trained, each announced as 'run k/N' with the time the comparison has left:
    the seconds per GMAC of the runs trained from the start so far, times the GMACs of the runs to come (a reused
    or resumed run is not timed: it took only part of its cost)."""
    runs = [(model, seed) for model in config.models for seed in range(config.seeds)]
    eta = Eta(cached_complexity(variant_spec(model))[1] for model, _ in runs)
    records: dict[str, list[RunRecord]] = {}
    for k, (model, seed) in enumerate(runs, start=1):
        left = eta.left()
        prefix = f"run {k}/{len(runs)}" + (f" (about {duration(left)} left)" if left is not None else "")
        directory = run_dir(config, model, seed)
        fresh = not (directory / DONE_FILE).exists() and not (directory / STATE).exists()
        start = time.perf_counter()
        records.setdefault(model, []).append(_finished_or_trained(config, model, seed,
                                                                  lambda m, p=prefix: log(f"{p}: {m}")))
        eta.finished(time.perf_counter() - start if fresh else None)
    log(f"{len(runs)} runs, {eta.timed} trained from the start ({duration(eta.spent)})")
    return records


# --- the training engine's side: its run directory, its per-epoch log ---------------------------------------
ACCURACY_COLUMN = "val_top1"  # a fraction in the log; the report shows percent
# the logged columns the report draws: accuracies (fractions) as the error figure, losses as the training curves
# (older logs lack train_acc and val_loss: their figures go without them)
CURVE_COLUMNS = ("train_loss", "val_loss")
LOGGED_CURVES = ("train_acc", ACCURACY_COLUMN, *CURVE_COLUMNS)


def _finished_or_trained(config: CompareConfig, model: str, seed: int, log) -> RunRecord:
    directory = run_dir(config, model, seed)
    done = directory / DONE_FILE
    _claim_settings(config, model, log)
    if done.exists():
        log(f"{model} seed {seed}: reusing the finished run in {directory}")
        wall_s = _read_wall_s(done)
    else:
        wall_s = _train(config, model, seed, directory, log)
        save_or_explain(done, lambda tmp: Path(tmp).write_text(json.dumps({"seed": seed, "wall_s": wall_s})),
                         CompareError)
    rows = _log_rows(directory)
    try:
        curve = {c: [float(r[c]) for r in rows if r.get(c) not in (None, "")] for c in LOGGED_CURVES}
        top1 = 100 * float(rows[-1][ACCURACY_COLUMN])
    except (TypeError, ValueError):
        raise CompareError(f"{directory / LOG_FILE} holds a value that is not a number; "
                           f"delete {directory} to train that run again") from None
    return RunRecord(model, seed, str(directory), top1, wall_s, curve)


def _train_config(config: CompareConfig, model: str, seed: int):
    """The TrainConfig of one run (checked as it is made)."""
    from ..train import from_recipe

    name, overrides = parse_variant(model)
    return from_recipe(config.recipe, model=name, spec=overrides, data=config.data, epochs=config.epochs, seed=seed,
                       output=str(run_dir(config, model, seed)), progress=config.progress, tensorboard=False,
                       **config.train_options)


def _train(config: CompareConfig, model: str, seed: int, directory: Path, log) -> float:
    """Train (or resume) one run; return its wall time in seconds."""
    from ..train import from_recipe, train

    resume = (directory / STATE).exists()  # a stopped run of these very settings: the directory says so
    log(f"{model} seed {seed}: {'resuming' if resume else 'training'} in {directory}")
    if resume:
        # the saved run's settings win; the options given here only say how to run it (workers, ...)
        result = train(from_recipe(config.recipe, resume=str(directory), progress=config.progress,
                                   **config.train_options))
    else:  # the folder is the comparison's own: what a failed or unsaved earlier attempt left there is replaced
        result = train(dataclasses.replace(_train_config(config, model, seed), overwrite=True))
    if result.stopped:
        raise CompareError(f"{model} seed {seed} stopped early ({result.stopped}); run the comparison again "
                           "to resume it")
    return result.wall_s


def _claim_settings(config: CompareConfig, model: str, log) -> None:
    """Make sure the settings folder holds these settings (writing them the first time), so that only runs
    trained exactly as asked are reused or resumed."""
    wanted = run_settings(config, model)
    path = settings_dir(config, model) / SETTINGS_FILE
    if path.exists():
        stored = _read_json(path, path.parent)
        if stored != wanted:
            raise CompareError(f"{path.parent} holds runs trained with other settings ({_changes(stored, wanted)}); "
                               f"delete {path.parent} to train them again")
        return
    previous = _previous_settings(path.parent.parent, exclude=path.parent)
    if previous is not None:
        folder, old = previous
        log(f"{model}: settings changed since the runs in {folder} ({_changes(old, wanted)}): training afresh, "
            "the old runs are kept")
    save_or_explain(path, lambda tmp: Path(tmp).write_text(json.dumps(wanted, indent=2, sort_keys=True)),
                     CompareError)


def _previous_settings(model_dir: Path, exclude: Path) -> tuple[Path, dict] | None:
    """The newest readable other settings of this model, as (folder, settings): what the log compares with."""
    found = [p for p in model_dir.glob(f"*/{SETTINGS_FILE}") if p.parent != exclude]
    for path in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True):
        with contextlib.suppress(CompareError):
            return path.parent, _read_json(path, path.parent)
    return None


def _changes(old: dict, new: dict) -> str:
    """'epochs 5 -> 3, data /a -> /b': the settings that differ."""
    return ", ".join(f"{k} {old.get(k, '-')} -> {new.get(k, '-')}" for k in sorted(set(old) | set(new))
                     if old.get(k) != new.get(k))


def _read_json(path: Path, runs: Path) -> dict:
    """The JSON object in `path`; if it is unreadable, an error that says to delete `runs` (what it describes)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        value, reason = None, (str(e).splitlines() or [type(e).__name__])[0]
    else:
        reason = "not a JSON object"
    if not isinstance(value, dict):
        raise CompareError(f"{path} is unreadable or corrupt ({reason}); delete {runs} to train again")
    return value


def _read_wall_s(done: Path) -> float:
    wall_s = _read_json(done, done.parent).get("wall_s")
    if not isinstance(wall_s, (int, float)) or isinstance(wall_s, bool):
        raise CompareError(f"{done} has no wall time ('wall_s'); delete {done.parent} to train that run again")
    return float(wall_s)


def _log_rows(directory: Path) -> list[dict]:
    path = directory / LOG_FILE
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        raise CompareError(f"{directory}: the run's training log {LOG_FILE} is missing or unreadable; delete "
                           f"{directory} to train it again") from None
    if not rows or ACCURACY_COLUMN not in rows[-1]:
        raise CompareError(f"{path} has no {ACCURACY_COLUMN!r} values to read the accuracy from; delete "
                           f"{directory} to train that run again")
    return rows


AUDIO_NOTE = ("Audio: GMACs are per second of audio and img/s are one-second clips per second, each model as trained "
              "on these log-mel features (one channel).")


def _audio_data(config: CompareConfig) -> bool:
    from ..data.audio import AUDIO_SUFFIXES
    from ..data.images import find_images

    train = Path(config.data or DEFAULT_DATASET) / "train"
    return train.is_dir() and bool(find_images(train, AUDIO_SUFFIXES))


def _trained_model(runs: list[RunRecord]):
    """The first run's model as it trained (its head sized to the data's classes, its input channels), from the
    run's own checkpoint: what the report's parameter and cost columns describe."""
    from ..weights import WeightsError
    from ..weights.loading import load_model

    path = Path(runs[0].run_dir) / WEIGHTS
    if not path.is_file():
        raise CompareError(f"{runs[0].run_dir}: the run's weights {WEIGHTS} are missing (the report counts the "
                           f"model as trained from them); delete {runs[0].run_dir} to train that run again")
    try:
        return load_model(path)
    except WeightsError as e:
        raise CompareError(f"{e}; delete {runs[0].run_dir} to train that run again") from None


def _summarise_audio(config: CompareConfig, model: str, runs: list[RunRecord]) -> ModelSummary:
    """Cost and speed on the features the models trained on: a second of audio, not a square image."""
    from ..bench.audio_cost import clips_per_second, macs_per_second

    net = _trained_model(runs)
    features = net.preprocessing.audio
    params = sum(p.numel() for p in net.parameters())
    return ModelSummary(model, runs, params / 1e6, macs_per_second(net, features) / 1e9,
                        clips_per_second(net, features, config.bench_batch_size))


def _summarise(config: CompareConfig, model: str, runs: list[RunRecord]) -> ModelSummary:
    if _audio_data(config):
        return _summarise_audio(config, model, runs)
    trained = _trained_model(runs)
    params, macs = cached_complexity(trained.spec, trained.preprocessing.input_size)
    bench = BenchSettings("cpu", config.bench_batch_size, repeats=10, warmup=2)
    (result,) = run_bench([model], bench).results
    return ModelSummary(model, runs, params / 1e6, macs / 1e9, result.images_per_s)


def _machine() -> str:
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads{gpu}; torch {torch.__version__}"
