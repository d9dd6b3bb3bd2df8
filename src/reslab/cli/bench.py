"""`reslab bench`: throughput, latency and memory of models, ours against timm's and torchvision's."""
from __future__ import annotations

import csv
import dataclasses
import json
import sys
from pathlib import Path

from ..util.files import check_writable_file, save_or_explain
from ..util.table import format_table


def add_commands(sub) -> None:
    from ..choices import COMPILE_MODES

    p = sub.add_parser("bench", help="images/s, latency and peak memory of models, optionally against timm/torchvision")
    p.add_argument("models", nargs="+", metavar="MODEL", help="preset names, optionally with :field=value overrides")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="default: %(default)s")
    p.add_argument("--batch-size", type=int, default=32, help="images per step; default: %(default)s")
    p.add_argument("--img-size", type=int, default=None, help="input resolution; default: each model's own")
    p.add_argument("--amp", default="off", choices=["bf16", "fp16", "off"], help="autocast dtype; default: %(default)s")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format for models and inputs")
    p.add_argument("--compile", action="store_true", help="torch.compile each model (compilation is not timed)")
    p.add_argument("--compile-mode", default="default", choices=list(COMPILE_MODES),
                   help="torch.compile mode (reduce-overhead: CUDA graphs); default: %(default)s")
    p.add_argument("--fold-bn", action="store_true", help="fold ResLab's BatchNorms into its convolutions (inference)")
    p.add_argument("--mode", default="infer", choices=["infer", "train", "both"],
                   help="time inference (no grad), training steps (forward, backward, step) or both; "
                        "default: %(default)s")
    p.add_argument("--against", default="", help="comma-separated: timm, torchvision (the same model from each, "
                                                 "timed in turns with ours); default: none")
    p.add_argument("--repeats", type=int, default=10, help="timed steps per model and mode; default: %(default)s")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed steps first (compilation, allocator, caches); default: %(default)s")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON")
    p.add_argument("--csv", type=Path, default=None, metavar="FILE", help="also write one row per result as CSV")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from ..bench import HEADERS, MEMORY_MEANING, BenchSettings, run_bench, table_rows

    settings = BenchSettings(args.device, args.batch_size, args.img_size, args.amp, args.channels_last, args.compile,
                             args.mode, args.repeats, args.warmup, args.compile_mode, args.fold_bn)
    against = tuple(a.strip() for a in args.against.split(",") if a.strip())
    for path in (args.json, args.csv):
        if path:
            check_writable_file(path)
    report = run_bench(args.models, settings, against, log=lambda m: print(m, file=sys.stderr))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    env = report.environment
    print(f"{settings.device} ({env.get('gpu', env['cpu'])}, {env['threads']} threads), torch {env['torch']}, "
          f"amp {settings.amp}, channels-last {settings.channels_last}, compile {settings.compile} "
          f"({settings.compile_mode}), fold-bn {settings.fold_bn}, "
          f"{settings.warmup} warm-up + {settings.repeats} timed steps")
    print(format_table(HEADERS, table_rows(report.results)))
    print("latency: median over the timed steps; IQR: 25th-75th percentile; "
          f"peak MB: {MEMORY_MEANING[settings.device]}")
    if args.json:
        _write(args.json, json.dumps(report.to_dict(), indent=2))
    if args.csv:
        _write_csv(args.csv, report.results)
    return 0


def _write(path: Path, text: str) -> None:
    save_or_explain(path, lambda tmp: Path(tmp).write_text(text))


def _write_csv(path: Path, results) -> None:
    """One row per BenchResult, its fields as columns."""
    from ..bench import BenchResult

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=[f.name for f in dataclasses.fields(BenchResult)])
            writer.writeheader()
            writer.writerows(dataclasses.asdict(r) for r in results)

    save_or_explain(path, write)
