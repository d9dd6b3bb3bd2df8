"""What a benchmark is asked to measure, checked before anything runs."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..choices import COMPILE_MODES
from ..errors import ReslabError
from ..util.precision import AMP_DTYPES

MODES = {"infer": ("infer",), "train": ("train",), "both": ("infer", "train")}


class BenchError(ReslabError, ValueError):
    """Benchmark settings that cannot be measured as asked."""


@dataclass(frozen=True)
class BenchSettings:
    device: str = "cpu"
    batch_size: int = 32
    img_size: int | None = None  # None: each model's own input size
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    mode: str = "infer"
    repeats: int = 10
    warmup: int = 3
    compile_mode: str = "default"  # torch.compile mode; reduce-overhead replays CUDA graphs
    fold_bn: bool = False  # ResLab's model only: BatchNorms folded into the convolutions (inference)

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"device must be cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise BenchError("device cuda asked for, but torch sees no CUDA GPU here; use --device cpu")
        if self.amp not in AMP_DTYPES:
            raise BenchError(f"amp must be one of {list(AMP_DTYPES)}, got {self.amp!r}")
        if self.mode not in MODES:
            raise BenchError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        for name, least in (("batch_size", 1), ("repeats", 1), ("warmup", 1)):
            if getattr(self, name) < least:
                raise BenchError(f"{name} must be at least {least}, got {getattr(self, name)}")
        if self.compile_mode not in COMPILE_MODES:
            raise BenchError(f"compile_mode must be one of {list(COMPILE_MODES)}, got {self.compile_mode!r}")
        if self.compile_mode != "default" and not self.compile:
            raise BenchError(f"--compile-mode {self.compile_mode} needs --compile")
        if self.fold_bn and self.mode != "infer":
            raise BenchError("--fold-bn is an inference transform: use it with --mode infer")
        if self.compile and self.warmup < 2:
            raise BenchError("--compile needs --warmup 2 or more: the first calls compile and must not be timed")
        if self.img_size is not None and self.img_size < 8:
            raise BenchError(f"img_size must be at least 8, got {self.img_size}")
