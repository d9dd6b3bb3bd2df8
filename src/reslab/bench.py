"""Throughput, latency and peak memory of models, ResLab's against timm's and torchvision's under the same settings.

Each model is warmed up (compiling if asked), then timed for `repeats` single steps. The implementations of one
model are timed in turn, step by step, so that noise from a shared machine hits them alike. Latency is the
median over the repeats with the interquartile range as its spread; images/s is batch / median latency. Against
another library, two ratios: of the median throughputs, and the paired one (their step time over ours within each
turn, median and quartiles over the turns), whose quartiles show whether a difference is beyond the noise.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import importlib.util
import os
import platform
import resource
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, ContextManager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ReslabError
from .export import fold_bn
from .info import cached_complexity, count_macs, count_params
from .models import build
from .registry import get_preset
from .variant import parse_variant, variant_spec

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
MODES = {"infer": ("infer",), "train": ("train",), "both": ("infer", "train")}
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
REFERENCES = ("timm", "torchvision")

MEMORY_MEANING = {
    "cuda": "peak of torch.cuda.max_memory_allocated over the warm-up steps: weights, activations, gradients, "
            "optimiser state",
    "cpu": "peak growth of the process's resident set over the warm-up steps, above its level before them, "
           "sampled every millisecond: activations, gradients, optimiser state (the weights are already resident)",
}


class BenchError(ReslabError, ValueError):
    """Benchmark settings that cannot be measured as asked."""


@dataclass(frozen=True)
class BenchSettings:
    device: str = "cpu"
    batch_size: int = 32
    img_size: int | None = None  # None: each model's own input size
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    mode: str = "infer"
    repeats: int = 10
    warmup: int = 3
    compile_mode: str = "default"  # torch.compile mode; reduce-overhead replays CUDA graphs
    fold_bn: bool = False  # ResLab's model only: BatchNorms folded into the convolutions (inference)

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"device must be cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise BenchError("device cuda asked for, but torch sees no CUDA GPU here; use --device cpu")
        if self.amp not in AMP_DTYPES:
            raise BenchError(f"amp must be one of {list(AMP_DTYPES)}, got {self.amp!r}")
        if self.mode not in MODES:
            raise BenchError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        for name, least in (("batch_size", 1), ("repeats", 1), ("warmup", 1)):
            if getattr(self, name) < least:
                raise BenchError(f"{name} must be at least {least}, got {getattr(self, name)}")
        if self.compile_mode not in COMPILE_MODES:
            raise BenchError(f"compile_mode must be one of {list(COMPILE_MODES)}, got {self.compile_mode!r}")
        if self.compile_mode != "default" and not self.compile:
            raise BenchError(f"--compile-mode {self.compile_mode} needs --compile")
        if self.fold_bn and self.mode != "infer":
            raise BenchError("--fold-bn is an inference transform: use it with --mode infer")
        if self.compile and self.warmup < 2:
            raise BenchError("--compile needs --warmup 2 or more: the first calls compile and must not be timed")
        if self.img_size is not None and self.img_size < 8:
            raise BenchError(f"img_size must be at least 8, got {self.img_size}")


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


@dataclass
class _Candidate:
    impl: str
    model: nn.Module
    in_chans: int
    num_classes: int
    params: int
    macs: int


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
        candidates = _candidates(name, settings, against, report.notes)
        img_size = settings.img_size or variant_spec(name).input_size
        for mode in MODES[settings.mode]:
            if log:
                log(f"measuring {name} ({mode}): {', '.join(c.impl for c in candidates)}")
            report.results.extend(_measure(name, candidates, mode, img_size, settings, timing_guard))
        del candidates
        _release_memory(settings.device)
    return report


def _candidates(name: str, settings: BenchSettings, against: tuple[str, ...], notes: list[str]) -> list[_Candidate]:
    preset_name, overrides = parse_variant(name)
    spec = variant_spec(name)
    size = settings.img_size or spec.input_size
    params, macs = complexity_at(name, spec, size)
    model = fold_bn(build(spec)) if settings.fold_bn else build(spec)
    out = [_Candidate("reslab", model, spec.in_chans, spec.num_classes, params, macs)]
    preset = get_preset(preset_name)
    for lib in against:
        their_name = getattr(preset, lib)
        if overrides:
            notes.append(f"{name}: no {lib} counterpart for a model with spec overrides; measured ours only")
        elif their_name is None:
            notes.append(f"{name}: {lib} has no model of the same design; measured ours only")
        elif importlib.util.find_spec(lib) is None:
            notes.append(f"{name}: {lib} is not installed; measured ours only")
        else:
            model = _reference_model(lib, their_name, spec.num_classes)
            out.append(_Candidate(lib, model, spec.in_chans, spec.num_classes, count_params(model),
                                  count_macs(model, size, spec.in_chans)))
    return out


def complexity_at(name: str, spec, size: int, error: type[ReslabError] = BenchError) -> tuple[int, int]:
    """(parameters, MACs) at `size` px; a size the network cannot take is bad input, said in one line."""
    try:
        return cached_complexity(spec, size)
    except RuntimeError as e:
        if size == spec.input_size:  # the model's own size must work: that failure is a bug, not bad input
            raise
        reason = (str(e).strip().splitlines() or ["?"])[0]
        raise error(f"{name} cannot take {size} px inputs ({reason}); use a larger size, e.g. its own "
                    f"{spec.input_size}") from None


def _reference_model(lib: str, name: str, num_classes: int) -> nn.Module:
    if lib == "timm":
        import timm

        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    import torchvision

    return torchvision.models.get_model(name, weights=None, num_classes=num_classes)


def _measure(name: str, candidates: list[_Candidate], mode: str, img_size: int, settings: BenchSettings,
             timing_guard: Callable[[], ContextManager]) -> list[BenchResult]:
    device = torch.device(settings.device)
    steps, memory, warmup_s = [], [], []
    for c in candidates:
        step = _make_step(c, mode, img_size, settings, device)
        peak, seconds = _warm_up(step, settings.warmup, settings.device)
        steps.append(step)
        memory.append(peak)
        warmup_s.append(seconds)
    with timing_guard():
        times = _time_in_turn(steps, settings.repeats, settings.device)
    results = []
    for c, ms, peak, seconds in zip(candidates, times, memory, warmup_s):
        q1, median, q3 = np.percentile(ms, [25, 50, 75])
        results.append(BenchResult(
            name, c.impl, mode, settings.device, settings.batch_size, img_size, settings.amp,
            settings.channels_last, settings.compile, settings.fold_bn and c.impl == "reslab",
            settings.batch_size / (median / 1000), float(median),
            float(q1), float(q3), float(min(ms)), float(max(ms)), peak / 2**20, c.params / 1e6, c.macs / 1e9,
            seconds))
    ours = results[0].images_per_s
    for r, ms in zip(results[1:], times[1:]):
        r.ratio = ours / r.images_per_s
        q1, median, q3 = np.percentile(np.asarray(ms) / np.asarray(times[0]), [25, 50, 75])
        r.paired_ratio, r.paired_ratio_q1, r.paired_ratio_q3 = float(median), float(q1), float(q3)
    return results


def _make_step(c: _Candidate, mode: str, img_size: int, settings: BenchSettings, device: torch.device):
    """One benchmark step: a forward pass (infer) or forward, loss, backward and SGD update (train)."""
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    model = c.model.to(device, memory_format=memory_format).train(mode == "train")
    x = torch.randn(settings.batch_size, c.in_chans, img_size, img_size, device=device)
    x = x.contiguous(memory_format=memory_format)
    forward = torch.compile(model, mode=settings.compile_mode) if settings.compile else model
    dtype = AMP_DTYPES[settings.amp]

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    if mode == "infer":
        def infer_step():
            with torch.no_grad(), autocast():
                forward(x)
        return infer_step

    y = torch.randint(0, c.num_classes, (settings.batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    # fp16 gradients underflow without loss scaling; the scaler's checks are part of a real fp16 step
    scaler = torch.amp.GradScaler(device.type, enabled=settings.amp == "fp16")

    def train_step():
        with autocast():
            loss = F.cross_entropy(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return train_step


def _warm_up(step, count: int, device: str) -> tuple[int, float]:
    """Run the warm-up steps; return (peak memory in bytes as MEMORY_MEANING says, seconds taken)."""
    _release_memory(device)
    start = time.perf_counter()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        for _ in range(count):
            step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(), time.perf_counter() - start
    with _ResidentPeak() as peak:
        for _ in range(count):
            step()
    return peak.growth, time.perf_counter() - start


def _time_in_turn(steps: list, repeats: int, device: str) -> list[list[float]]:
    """Milliseconds of each step, `repeats` times, the steps taking turns."""
    times: list[list[float]] = [[] for _ in steps]
    for step in steps:  # one untimed round: caches and clocks settle after whatever ran before
        step()
    for _ in range(repeats):
        for i, step in enumerate(steps):
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda.synchronize()
                start.record()
                step()
                end.record()
                torch.cuda.synchronize()
                times[i].append(start.elapsed_time(end))
            else:
                start_s = time.perf_counter()
                step()
                times[i].append((time.perf_counter() - start_s) * 1000)
    return times


def _release_memory(device: str) -> None:
    import gc

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    elif platform.system() == "Linux":
        # freed heap pages stay resident until trimmed, which would hide the next model's growth
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _max_resident_bytes() -> int:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if platform.system() == "Darwin" else maxrss * 1024  # macOS reports bytes, Linux KiB


class _ResidentPeak:
    """Samples the resident set in a thread while the block runs (torch kernels release the GIL)."""

    def __init__(self, interval_s: float = 0.001):
        self.interval_s = interval_s
        self.growth = 0
        self._stop = threading.Event()

    def __enter__(self):
        self._base = _resident_bytes()
        self._peak = self._base
        if self._base is None:  # no /proc: the lifetime maximum, which only shows growth past earlier peaks
            self._base = _max_resident_bytes()
            return self
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _resident_bytes() or 0)
            time.sleep(self.interval_s)

    def __exit__(self, *exc) -> None:
        if hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, _resident_bytes() or 0)
        else:
            self._peak = _max_resident_bytes()
        self.growth = max(0, self._peak - self._base)


HEADERS = ["model", "impl", "mode", "batch", "img/s", "latency ms", "IQR ms", "peak MB", "params M", "GMACs",
           "ours/theirs", "paired (IQR)"]


def table_rows(results: list[BenchResult]) -> list[list]:
    return [[r.model, r.impl + (" (fold_bn)" if r.fold_bn else ""), r.mode, r.batch_size, f"{r.images_per_s:.1f}",
             f"{r.latency_ms:.2f}", f"{r.latency_ms_q1:.2f}-{r.latency_ms_q3:.2f}", f"{r.peak_memory_mb:.0f}",
             f"{r.params_m:.2f}", f"{r.gmacs:.3f}", "" if r.ratio is None else f"{r.ratio:.2f}",
             "" if r.paired_ratio is None else
             f"{r.paired_ratio:.2f} ({r.paired_ratio_q1:.2f}-{r.paired_ratio_q3:.2f})"] for r in results]
