"""The timer: the implementations of one model take turns, step by step, so that machine noise hits them alike."""
from __future__ import annotations

import time

import torch


def time_in_turn(steps: list, repeats: int, device: str) -> list[list[float]]:
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
