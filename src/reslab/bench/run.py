"""run_bench: build each model's implementations, warm them up, time them in turn and report the rows."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import platform
from typing import Callable, ContextManager

import numpy as np
import torch

from ..variant import variant_spec
from .candidates import REFERENCES, Candidate, build_candidates
from .memory import release_memory, warm_up
from .results import BenchReport, BenchResult, set_ratios
from .settings import MODES, BenchError, BenchSettings
from .steps import make_step
from .timing import time_in_turn


def environment(device: str) -> dict:
    env = {"torch": torch.__version__, "python": platform.python_version(), "cpu": platform.processor() or
           platform.machine(), "threads": torch.get_num_threads()}
    if device == "cuda":
        env["gpu"] = torch.cuda.get_device_name()
    for lib in REFERENCES:
        if importlib.util.find_spec(lib) is not None:
            env[lib] = importlib.import_module(lib).__version__
    return env


def run_bench(models: list[str], settings: BenchSettings = BenchSettings(), against: tuple[str, ...] = (),
              log: Callable[[str], None] | None = None,
              timing_guard: Callable[[], ContextManager] = contextlib.nullcontext) -> BenchReport:
    """Measure every model (a preset, optionally with `:field=value` overrides) in every asked mode.

    The timed steps run inside `timing_guard()`: e.g. a lock that lets several processes compile at once
    while only one of them times.
    """
    unknown = sorted(set(against) - set(REFERENCES))
    if unknown:
        raise BenchError(f"--against takes {', '.join(REFERENCES)}; got {', '.join(unknown)}")
    if not models:
        raise BenchError("name at least one model to measure")
    for name in models:
        variant_spec(name)  # bad names and overrides fail before anything is measured
    report = BenchReport(settings, [], environment=environment(settings.device))
    for name in models:
        candidates = build_candidates(name, settings, against, report.notes)
        img_size = settings.img_size or variant_spec(name).input_size
        for mode in MODES[settings.mode]:
            if log:
                log(f"measuring {name} ({mode}): {', '.join(c.impl for c in candidates)}")
            report.results.extend(measure(name, candidates, mode, img_size, settings, timing_guard))
        del candidates
        release_memory(settings.device)
    return report


def measure(name: str, candidates: list[Candidate], mode: str, img_size: int, settings: BenchSettings,
            timing_guard: Callable[[], ContextManager]) -> list[BenchResult]:
    """One row per candidate in `mode`: each warmed up on its own, then all timed in turn."""
    device = torch.device(settings.device)
    steps, memory, warmup_s = [], [], []
    for c in candidates:
        step = make_step(c, mode, img_size, settings, device)
        peak, seconds = warm_up(step, settings.warmup, settings.device)
        steps.append(step)
        memory.append(peak)
        warmup_s.append(seconds)
    with timing_guard():
        times = time_in_turn(steps, settings.repeats, settings.device)
    results = []
    for c, ms, peak, seconds in zip(candidates, times, memory, warmup_s):
        q1, median, q3 = np.percentile(ms, [25, 50, 75])
        results.append(BenchResult(
            name, c.impl, mode, settings.device, settings.batch_size, img_size, settings.amp,
            settings.channels_last, settings.compile, settings.fold_bn and c.impl == "reslab",
            settings.batch_size / (median / 1000), float(median),
            float(q1), float(q3), float(min(ms)), float(max(ms)), peak / 2**20, c.params / 1e6, c.macs / 1e9,
            seconds))
    set_ratios(results, times)
    return results
