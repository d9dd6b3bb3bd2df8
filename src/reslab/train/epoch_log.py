"""What a run logs per epoch: a CSV row and TensorBoard scalars (the progress bar is reslab.util.progress)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..util.files import atomic_write
from .rundir import METRICS, TENSORBOARD


class EpochLog:
    """The run's metrics.csv (one row per saved epoch, the whole file rewritten atomically each epoch) and
    TensorBoard scalars, named in rundir.

    A fresh run starts an empty log. A resumed one keeps the rows of the epochs its checkpoint holds: a row cut by
    a kill mid-line (written by an older ResLab, which appended) is dropped, rows after the checkpoint's epoch are
    dropped, and the checkpoint's own epoch, if its row is missing, is rebuilt from the metrics the checkpoint
    saved; each repair is said."""

    def __init__(self, run_dir: Path, tensorboard: bool, fresh: bool = True, saved: dict | None = None,
                 saved_epoch: int | None = None, say=print):
        self.path = Path(run_dir) / METRICS
        self.rows: list[dict] = [] if fresh else _kept_rows(self.path, saved_epoch, saved, say)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD))

    def write(self, epoch: int, metrics: dict) -> None:
        self.rows.append({"epoch": epoch, **metrics})
        atomic_write(self.path, lambda tmp: Path(tmp).write_text(_csv_text(self.rows)))
        if self.writer is not None:
            for key, value in metrics.items():
                self.writer.add_scalar(key, value, epoch)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _csv_text(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO(newline="")
    w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def _kept_rows(path: Path, saved_epoch: int | None, saved: dict | None, say) -> list[dict]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        text = ""
    lines = text.splitlines()
    rows = []
    if lines:
        header = next(csv.reader([lines[0]]))
        for number, line in enumerate(lines[1:], start=2):
            values = next(csv.reader([line]), [])
            cut = len(values) != len(header) or (number == len(lines) and not text.endswith("\n"))
            if cut or not values[0].isdigit():
                say(f"{path}: line {number} is cut short or damaged (a kill while it was written?); dropped it")
                continue
            rows.append(dict(zip(header, values)))
    if saved_epoch is not None:
        later = [r for r in rows if int(r["epoch"]) > saved_epoch]
        if later:
            say(f"{path}: dropped {len(later)} row(s) after epoch {saved_epoch}, the epoch the checkpoint holds")
        rows = [r for r in rows if int(r["epoch"]) <= saved_epoch]
        if saved_epoch > 0 and saved and not any(int(r["epoch"]) == saved_epoch for r in rows):
            say(f"{path}: epoch {saved_epoch}'s row was missing; rebuilt it from the checkpoint's saved metrics")
            rows.append({"epoch": saved_epoch, **saved})
    return rows
