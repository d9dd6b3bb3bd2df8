"""Throughput, latency and peak memory of models, ResLab's against timm's and torchvision's under the same settings.

Each model is warmed up (compiling if asked), then timed for `repeats` single steps. The implementations of one
model are timed in turn, step by step, so that noise from a shared machine hits them alike. Latency is the
median over the repeats with the interquartile range as its spread; images/s is batch / median latency. Against
another library, two ratios: of the median throughputs, and the paired one (their step time over ours within each
turn, median and quartiles over the turns), whose quartiles show whether a difference is beyond the noise.

One idea per module: settings (what to measure, checked), results (rows, ratios, table), candidates (ours and
the reference models), steps (inference and train steps), timing (the turn-taking timer), memory (the peak
memory sampler), run (run_bench tying them together).
"""
from .candidates import REFERENCES, Candidate, complexity_at
from .memory import ResidentPeak
from .results import HEADERS, MEMORY_MEANING, BenchReport, BenchResult, table_rows
from .run import environment, run_bench
from .settings import AMP_DTYPES, COMPILE_MODES, MODES, BenchError, BenchSettings
from .steps import make_step

# The steps of run_bench (bench.run.measure, bench.timing.time_in_turn, ...) live in their modules: replace them
# there, e.g. monkeypatch.setattr("reslab.bench.run.time_in_turn", ...), since run.py holds its own references.
__all__ = [
    "AMP_DTYPES", "COMPILE_MODES", "HEADERS", "MEMORY_MEANING", "MODES", "REFERENCES", "BenchError", "BenchReport",
    "BenchResult", "BenchSettings", "Candidate", "ResidentPeak", "complexity_at", "environment", "make_step",
    "run_bench", "table_rows",
]
