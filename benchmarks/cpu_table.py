"""The CPU table of RESULTS.md: a handful of ResLab models against timm's, small batch, on this machine.

    .venv/bin/python benchmarks/cpu_table.py [--models a,b] [--batch-size 8] [--repeats 7]

Writes benchmarks/cpu_results.json and the "cpu-table" section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))
from reslab.bench import BenchSettings, run_bench  # noqa: E402
from reslab.registry import list_models  # noqa: E402
from results_section import RESULTS, replace_section, section  # noqa: E402

MODELS = ["resnet18", "resnet50", "resnet50d", "resnext50_32x4d", "seresnet50", "resnest50d", "regnety_040",
          "tresnet_m", "densenet121"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", type=Path, default=HERE / "cpu_results.json")
    args = parser.parse_args()
    registered = set(list_models())
    models = [m for m in args.models.split(",") if m in registered]
    missing = [m for m in args.models.split(",") if m not in registered]
    settings = BenchSettings("cpu", args.batch_size, args.img_size, mode="both", repeats=args.repeats,
                             warmup=args.warmup)
    report = run_bench(models, settings, against=("timm",), log=lambda m: print(m, flush=True))
    report.notes += [f"{m}: not registered in ResLab when this ran; left out" for m in missing]
    data = {"command": "python benchmarks/cpu_table.py " + shlex.join(sys.argv[1:]), **report.to_dict()}
    args.json.write_text(json.dumps(data, indent=2))
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    RESULTS.write_text(replace_section(text, "cpu-table", section("cpu-table", "CPU: ResLab against timm", [data])))
    print(f"wrote {args.json} and the cpu-table section of {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
