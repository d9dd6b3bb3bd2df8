"""The GPU table of RESULTS.md: the modern ResNets against timm at batch 256, bf16, channels-last,
eager and compiled, inference and training, every pair measured in the same process.

    PYTHONPATH=src python3 benchmarks/gpu_table.py --out DIR [--models a,b] [--phases eager:both,compiled:infer]
                                                   [--parallel N]

Phases run in the order given; a phase is VARIANT:MODE (eager or compiled; infer, train or both). Each writes
DIR/gpu_<variant>_<mode>.json (`reslab bench --json` reports, rewritten after every model so a run cut short
keeps what it measured). `python benchmarks/results_section.py gpu-table HEADING DIR/gpu_*.json` turns them
into the "gpu-table" section of RESULTS.md.

Compiling a ResNet-50 for training takes about a minute per implementation, most of it on the CPU. With
`--parallel N`, compiled phases run one worker process per model, N at a time: they compile concurrently on
their own CPU cores, and only one at a time holds the GPU lock for its timed steps, on two cores of its own.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from reslab.bench import BenchReport, BenchSettings, run_bench  # noqa: E402
from reslab.registry import list_models  # noqa: E402

MODELS = ["resnet50", "resnet50d", "resnext50_32x4d", "seresnext50_32x4d", "resnest50d", "regnety_040", "tresnet_m",
          "resnetrs50", "densenet121"]
TIMING_CORES = {0, 1}  # the timing process's own cores while it holds the lock


# variant -> (compile, compile mode, fold ResLab's BatchNorms); "folded*" are the fold_bn inference target's rows
VARIANTS = {"eager": (False, "default", False), "compiled": (True, "default", False),
            "folded": (True, "default", True), "folded_cudagraphs": (True, "reduce-overhead", True)}


def settings_for(variant: str, mode: str, args) -> BenchSettings:
    compile_, compile_mode, fold = VARIANTS[variant]
    return BenchSettings(args.device, args.batch_size, args.img_size, "bf16", True, compile_, mode, args.repeats,
                         args.warmup, compile_mode, fold)


def phase_models(variant: str, args, models: list[str]) -> list[str]:
    return [m for m in models if m in args.fold_models.split(",")] if variant.startswith("folded") else models


@contextlib.contextmanager
def gpu_lock(path: Path):
    """Hold the GPU alone (file lock) on the timing cores; compile workers keep to the other cores."""
    compile_cores = os.sched_getaffinity(0)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # while waiting, hold only live tensors: other workers are compiling on the GPU
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if compile_cores.isdisjoint(TIMING_CORES):
            os.sched_setaffinity(0, TIMING_CORES)
        try:
            yield
        finally:
            os.sched_setaffinity(0, compile_cores)
            fcntl.flock(handle, fcntl.LOCK_UN)


def worker(job: str, args) -> int:
    """One model in one compiled phase, timed under the GPU lock; writes DIR/parts/<variant>_<mode>_<model>.json."""
    variant, mode, model = job.split(":")
    if os.cpu_count() > 2 * len(TIMING_CORES):
        os.sched_setaffinity(0, set(range(os.cpu_count())) - TIMING_CORES)
    report = run_bench([model], settings_for(variant, mode, args), against=("timm",),
                       timing_guard=lambda: gpu_lock(args.out / "gpu.lock"))
    (args.out / "parts" / f"{variant}_{mode}_{model}.json").write_text(json.dumps(report.to_dict()))
    return 0


def run_pool(phases: list[tuple[str, str]], models: list[str], args, deadline: float, header: dict) -> None:
    """All jobs of the parallel phases in one pool, training first (it compiles longest); each phase's JSON is
    rewritten whenever one of its models finishes."""
    (args.out / "parts").mkdir(exist_ok=True)
    phases = sorted(phases, key=lambda p: p[1] != "train")
    pending = [(variant, mode, model) for variant, mode in phases for model in phase_models(variant, args, models)]
    parts: dict = {p: [] for p in phases}
    notes: dict = {p: [f"compiled in up to {args.parallel} processes at once; each timed alone under a GPU lock "
                       "on two reserved cores"] for p in phases}
    running = []
    while pending or running:
        while pending and len(running) < args.parallel and time.perf_counter() < deadline:
            job = pending.pop(0)
            cmd = [sys.executable, __file__, "--worker", ":".join(job), "--out", str(args.out), "--device",
                   args.device, "--img-size", str(args.img_size), "--batch-size", str(args.batch_size),
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--fold-models", args.fold_models]
            running.append((job, subprocess.Popen(cmd)))
        if pending and time.perf_counter() >= deadline:
            for variant, mode, model in pending:
                notes[(variant, mode)].append(f"{model}: not measured {variant} {mode}, the run's time was up")
            pending = []
        time.sleep(1)
        for job, proc in list(running):
            if proc.poll() is None:
                continue
            running.remove((job, proc))
            variant, mode, model = job
            part = args.out / "parts" / f"{variant}_{mode}_{model}.json"
            if proc.returncode == 0 and part.exists():
                parts[(variant, mode)].append(json.loads(part.read_text()))
                print(f"{variant} {mode} {model}: done at {time.perf_counter() - START:.0f} s", flush=True)
            else:
                notes[(variant, mode)].append(f"{model}: the {variant} {mode} worker failed "
                                              f"(exit {proc.returncode})")
            done = sorted(parts[(variant, mode)], key=lambda p: models.index(p["results"][0]["model"]))
            data = {**header, **BenchReport(settings_for(variant, mode, args), []).to_dict(),
                    "environment": done[0]["environment"] if done else {},
                    "results": [r for p in done for r in p["results"]],
                    "notes": header["notes"] + [n for p in done for n in p["notes"]] + notes[(variant, mode)]}
            (args.out / f"gpu_{variant}_{mode}.json").write_text(json.dumps(data, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--phases", default="eager:both,compiled:infer,compiled:train,folded:infer,"
                                            "folded_cudagraphs:infer")
    parser.add_argument("--fold-models", default="resnet50", help="models of the folded phases")
    parser.add_argument("--device", default="cuda", help="cpu only to try the script itself")
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=1, help="compile this many models at once")
    parser.add_argument("--deadline-s", type=float, default=540, help="start no new model after this many seconds")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args)
    deadline = START + args.deadline_s
    args.out.mkdir(parents=True, exist_ok=True)
    registered = set(list_models())
    models = [m for m in args.models.split(",") if m in registered]
    missing = [f"{m}: not registered in ResLab when this ran; skipped" for m in args.models.split(",")
               if m not in registered]
    command = "PYTHONPATH=src python3 benchmarks/gpu_table.py " + shlex.join(sys.argv[1:])
    phases = [tuple(p.split(":")) for p in args.phases.split(",")]
    pooled = [p for p in phases if VARIANTS[p[0]][0] and args.parallel > 1]
    for variant, mode in (p for p in phases if p not in pooled):
        settings = settings_for(variant, mode, args)
        report = BenchReport(settings, [], list(missing))
        for model in phase_models(variant, args, models):
            if time.perf_counter() > deadline:
                report.notes.append(f"{model}: not measured {variant} {mode}, the run's time was up")
                continue
            part = run_bench([model], settings, against=("timm",), log=lambda m: print(m, flush=True))
            report.results += part.results
            report.notes += part.notes
            report.environment = part.environment
            for r in part.results:
                print(f"  {r.impl:6s} {r.mode:5s} {variant:8s} {r.images_per_s:8.1f} img/s  "
                      f"ratio {r.ratio or 1:.3f}  peak {r.peak_memory_mb:.0f} MB  warm-up {r.warmup_s:.0f} s",
                      flush=True)
            (args.out / f"gpu_{variant}_{mode}.json").write_text(
                json.dumps({"command": command, **report.to_dict()}, indent=2))
    if pooled:
        run_pool(pooled, models, args, deadline, {"command": command, "notes": missing})
    print(f"done in {time.perf_counter() - START:.0f} s")
    return 0


START = time.perf_counter()

if __name__ == "__main__":
    raise SystemExit(main())
