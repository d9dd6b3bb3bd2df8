"""A one-line progress bar on stderr: done/total, images/s, ETA and whatever the caller adds (loss, accuracy)."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    """Redrawn at most 5 times a second; silent when disabled (not a terminal, another rank, --no-progress)."""

    def __init__(self, total: int, prefix: str, enabled: bool = True, stream=sys.stderr):
        self.total, self.prefix, self.enabled, self.stream = total, prefix, enabled, stream
        self.start = self.last_draw = time.perf_counter()

    def update(self, done: int, images: int, detail: str = "") -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last_draw < 0.2 and done < self.total):
            return
        self.last_draw = now
        elapsed = now - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        width = 20
        filled = int(width * done / max(self.total, 1))
        self.stream.write(f"\r{self.prefix} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"{detail + ' ' if detail else ''}{images / max(elapsed, 1e-9):7.1f} img/s eta {eta:5.0f}s")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()
