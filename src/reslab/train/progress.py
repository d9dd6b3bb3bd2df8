"""What a run reports: a one-line progress bar, a CSV row and TensorBoard scalars per epoch."""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from .rundir import METRICS, TENSORBOARD


class ProgressBar:
    """Loss, accuracy, images/s and ETA on one terminal line, redrawn at most 5 times a second."""

    def __init__(self, total: int, prefix: str, enabled: bool = True, stream=sys.stderr):
        self.total, self.prefix, self.enabled, self.stream = total, prefix, enabled, stream
        self.start = self.last_draw = time.perf_counter()

    def update(self, done: int, images: int, loss: float, acc: float) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last_draw < 0.2 and done < self.total):
            return
        self.last_draw = now
        elapsed = now - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        width = 20
        filled = int(width * done / max(self.total, 1))
        self.stream.write(f"\r{self.prefix} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"loss {loss:.4f} acc {acc:6.2%} {images / max(elapsed, 1e-9):7.1f} img/s "
                          f"eta {eta:5.0f}s")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


class EpochLog:
    """The run's metrics.csv (one row per epoch) and TensorBoard scalars, named in rundir."""

    def __init__(self, run_dir: Path, tensorboard: bool):
        self.path = run_dir / METRICS
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / TENSORBOARD))

    def write(self, epoch: int, metrics: dict) -> None:
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["epoch", *metrics])
            if new:
                w.writeheader()
            w.writerow({"epoch": epoch, **metrics})
        if self.writer is not None:
            for key, value in metrics.items():
                self.writer.add_scalar(key, value, epoch)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
