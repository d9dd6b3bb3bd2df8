"""In-place against out-of-place residual addition in ResLab's model, each paired with timm's, on this CPU.

    .venv/bin/python benchmarks/residual_add_cpu.py [--model resnet50] [--turns 25] [--batch-size 8]

Each turn runs one inference forward of: ResLab (in place, as shipped), timm, ResLab with the addition swapped
for an out-of-place one. Prints timm's step time over each ResLab variant's in the same turn (median, IQR).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import reslab.models.resnet as resnet  # noqa: E402
from reslab import create_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--turns", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    import timm

    x = torch.randn(args.batch_size, 3, 224, 224)
    in_place = resnet.add_shortcut
    variants = {"in place": (create_model(args.model).eval(), in_place),
                "timm": (timm.create_model(args.model).eval(), in_place),
                "out of place": (create_model(args.model).eval(), lambda branch, shortcut: branch + shortcut)}

    def seconds(model, add) -> float:
        resnet.add_shortcut = add  # the blocks look the function up at call time
        start = time.perf_counter()
        with torch.inference_mode():
            model(x)
        resnet.add_shortcut = in_place
        return time.perf_counter() - start

    for _ in range(2):  # warm-up
        for model, add in variants.values():
            seconds(model, add)
    times = {name: [] for name in variants}
    for _ in range(args.turns):
        for name, (model, add) in variants.items():
            times[name].append(seconds(model, add))
    print(f"{args.model}, batch {args.batch_size}, 224 px, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {args.turns} turns")
    for name in ("in place", "out of place"):
        ratios = [t / o for t, o in zip(times["timm"], times[name])]
        q1, median, q3 = statistics.quantiles(ratios, n=4)
        print(f"timm / ResLab ({name}): median {median:.3f}, IQR {q1:.3f}-{q3:.3f}; "
              f"ResLab median step {statistics.median(times[name]) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
