"""resnet50 on the CPU before and after `reslab.fold_bn`: latency at batch 1 and throughput at batch 64.

Each figure is the median of repeated timed runs after warm-up runs. Prints a Markdown table with the hardware.
Usage: python benchmarks/fold_bn_cpu.py [--model resnet50] [--repeats 15] [--throughput-repeats 5]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

import reslab


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@torch.inference_mode()
def interleaved_medians(models: dict, x, warmup: int, repeats: int) -> dict[str, float]:
    """Median seconds per model; the models take turns each repeat so load changes hit both alike."""
    for model in models.values():
        for _ in range(warmup):
            model(x)
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model(x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=15, help="timed runs at batch 1")
    parser.add_argument("--throughput-repeats", type=int, default=5, help="timed runs at batch 64")
    args = parser.parse_args()

    torch.manual_seed(0)
    original = reslab.create_model(args.model).eval()
    folded = reslab.fold_bn(original)
    one = torch.randn(1, 3, args.size, args.size)
    many = torch.randn(64, 3, args.size, args.size)
    with torch.inference_mode():
        diff = (original(one) - folded(one)).abs().max().item()

    models = {"original": original, "folded": folded}
    load_before = os.getloadavg()[0]
    latency = interleaved_medians(models, one, warmup=3, repeats=args.repeats)
    batch_time = interleaved_medians(models, many, warmup=1, repeats=args.throughput_repeats)
    rows = [(label, latency[label] * 1e3, 64 / batch_time[label]) for label in models]
    base_latency, base_throughput = rows[0][1], rows[0][2]

    print(f"Hardware: {cpu_model()}, torch.get_num_threads() = {torch.get_num_threads()}, "
          f"os.cpu_count() = {os.cpu_count()}, load average before / after the run {load_before:.1f} / "
          f"{os.getloadavg()[0]:.1f}; "
          f"torch {torch.__version__}")
    print(f"{args.model} at {args.size} px, fp32, eager, inference_mode. Batch 1: median of {args.repeats} runs "
          f"after 3 warm-up; batch 64: median of {args.throughput_repeats} runs after 1 warm-up; "
          "the two models take turns. "
          f"BatchNorms folded: {folded.folded_norms}, left: {len(folded.unfolded_norms)}; "
          f"max abs logit difference folded vs original: {diff:.2g}.\n")
    print("| model | latency batch 1 (ms) | speed-up | throughput batch 64 (img/s) | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for label, latency, throughput in rows:
        print(f"| {args.model} {label} | {latency:.1f} | {base_latency / latency:.2f}x | {throughput:.1f} | "
              f"{throughput / base_throughput:.2f}x |")


if __name__ == "__main__":
    main()
