"""Peak memory over the warm-up steps, as MEMORY_MEANING says: CUDA's allocator peak, or the sampled resident set."""
from __future__ import annotations

import ctypes
import os
import platform
import resource
import threading
import time

import torch


def warm_up(step, count: int, device: str) -> tuple[int, float]:
    """Run the warm-up steps; return (peak memory in bytes as MEMORY_MEANING says, seconds taken)."""
    release_memory(device)
    start = time.perf_counter()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        for _ in range(count):
            step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(), time.perf_counter() - start
    with ResidentPeak() as peak:
        for _ in range(count):
            step()
    return peak.growth, time.perf_counter() - start


def release_memory(device: str) -> None:
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


def resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def max_resident_bytes() -> int:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if platform.system() == "Darwin" else maxrss * 1024  # macOS reports bytes, Linux KiB


class ResidentPeak:
    """Samples the resident set in a thread while the block runs (torch kernels release the GIL)."""

    def __init__(self, interval_s: float = 0.001):
        self.interval_s = interval_s
        self.growth = 0
        self._stop = threading.Event()

    def __enter__(self):
        self._base = resident_bytes()
        self._peak = self._base
        if self._base is None:  # no /proc: the lifetime maximum, which only shows growth past earlier peaks
            self._base = max_resident_bytes()
            return self
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, resident_bytes() or 0)
            time.sleep(self.interval_s)

    def __exit__(self, *exc) -> None:
        if hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, resident_bytes() or 0)
        else:
            self._peak = max_resident_bytes()
        self.growth = max(0, self._peak - self._base)
