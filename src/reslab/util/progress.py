"""A one-line progress bar on stderr: done/total, images/s, ETA and whatever the caller adds (loss, accuracy); the
time left in a sequence of jobs of different cost."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    """Redrawn at most 5 times a second; silent when disabled (not a terminal, another rank, --no-progress)."""

    def __init__(self, total: int, prefix: str, enabled: bool = True, stream=None):
        # stderr as it is now, not at import: a redirected or captured stderr gets the bar
        self.total, self.prefix, self.enabled, self.stream = total, prefix, enabled, stream or sys.stderr
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


class Eta:
    """Time left in a sequence of jobs of known relative cost (a model's GMACs, say), from the seconds per unit of
    cost that the jobs timed so far took; a job that took no real time (a finished run reused) counts as done,
    not timed."""

    def __init__(self, costs):
        self.costs = list(costs)
        self.done = 0  # jobs finished, in order
        self.spent = 0.0  # seconds the timed jobs took
        self.timed = 0  # how many were timed
        self.timed_cost = 0.0

    def finished(self, seconds: float | None) -> None:
        """The next job is done; `seconds` is what it took, None if it was not run (reused)."""
        if seconds is not None:
            self.spent += seconds
            self.timed += 1
            self.timed_cost += self.costs[self.done]
        self.done += 1

    def left(self) -> float | None:
        """Seconds the remaining jobs will take at the rate measured so far; None before any job was timed."""
        if not self.timed_cost:
            return None
        return self.spent / self.timed_cost * sum(self.costs[self.done:])


def duration(seconds: float) -> str:
    """'45 s', '3 min 05 s', '2 h 07 min'."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
