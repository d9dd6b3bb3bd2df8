"""The GPU table of RESULTS.md: the modern ResNets against timm at batch 256, bf16, channels-last,
eager and compiled, inference and training, every pair measured in the same process.

    PYTHONPATH=src python3 benchmarks/gpu_table.py --out DIR [--models a,b] [--phases eager:both,compiled:infer]

Phases run in the order given, each over all models; a phase is VARIANT:MODE (eager or compiled; infer, train
or both). Writes DIR/gpu_<variant>_<mode>.json (`reslab bench --json` reports, rewritten after every model so
a run cut short keeps what it measured). `python benchmarks/results_section.py gpu-table HEADING DIR/gpu_*.json` turns them
into the "gpu-table" section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from reslab.bench import BenchReport, BenchSettings, run_bench  # noqa: E402
from reslab.registry import list_models  # noqa: E402

MODELS = ["resnet50", "resnet50d", "resnext50_32x4d", "seresnext50_32x4d", "resnest50d", "regnety_040", "tresnet_m",
          "resnetrs50", "densenet121"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--phases", default="eager:both,compiled:infer,compiled:train")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--deadline-s", type=float, default=540, help="start no new model after this many seconds")
    args = parser.parse_args()
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    registered = set(list_models())
    models = [m for m in args.models.split(",") if m in registered]
    missing = [f"{m}: not registered in ResLab when this ran; skipped" for m in args.models.split(",")
               if m not in registered]
    command = "PYTHONPATH=src python3 benchmarks/gpu_table.py " + shlex.join(sys.argv[1:])
    for phase in args.phases.split(","):
        variant, mode = phase.split(":")
        settings = BenchSettings("cuda", args.batch_size, 224, "bf16", True, variant == "compiled", mode,
                                 args.repeats, args.warmup)
        report = BenchReport(settings, [], list(missing))
        for model in models:
            if time.perf_counter() - start > args.deadline_s:
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
            (args.out / f"gpu_{variant}_{mode}.json").write_text(json.dumps({"command": command, **report.to_dict()},
                                                                     indent=2))
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
