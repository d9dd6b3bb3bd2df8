"""What a run logs per epoch: a CSV row and TensorBoard scalars (the progress bar is reslab.progress)."""
from __future__ import annotations

import csv
from pathlib import Path

from .rundir import METRICS, TENSORBOARD


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
