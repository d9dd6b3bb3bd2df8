"""The typed parts every run's settings are made of. `TrainConfig` (train.config) and `PretrainConfig`
(selfsup.config) are each these parts plus their own fields, so the code that takes a part declares what it reads:
the optimiser `OptimiserSettings`, the learning-rate schedule `ScheduleSettings`, the processes a run spans
`ExecutionSettings`. Each part checks its own fields (their types, `CHOICES` and `RANGES`, and the rules between
them) when a config is made; a config is flat data, saved and read back as one JSON object."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..errors import ReslabError


class ConfigError(ReslabError, ValueError):
    pass


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass
class Settings:
    """Checked when made; saved and read back as JSON. `KIND` names the config in messages."""
    KIND: ClassVar[str] = "training"
    CHOICES: ClassVar[dict] = {}  # field -> its allowed values
    RANGES: ClassVar[dict] = {}  # field -> its interval; "(" or ")" excludes that end; None values mean "not set"
    source: str = field(default="", repr=False)  # the recipe's citation

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Every field against its type, its set of values or its interval; the parts add their own rules."""
        check_fields(self, self.choices(), self.ranges())

    @classmethod
    def choices(cls) -> dict:
        return {k: v for klass in reversed(cls.__mro__) for k, v in vars(klass).get("CHOICES", {}).items()}

    @classmethod
    def ranges(cls) -> dict:
        return {k: v for klass in reversed(cls.__mro__) for k, v in vars(klass).get("RANGES", {}).items()}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def save(self, path: Path) -> None:
        from ..util.files import atomic_write

        atomic_write(Path(path), lambda tmp: Path(tmp).write_text(self.to_json() + "\n"))

    @classmethod
    def from_dict(cls, d: dict):
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown {cls.KIND} settings: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @classmethod
    def load(cls, path: Path):
        try:
            values = json.loads(Path(path).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path} is not valid JSON ({e}); it must hold the run's settings") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path} must hold a JSON object of {cls.KIND} settings")
        try:
            return cls.from_dict(values)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None


@dataclass
class DataSettings(Settings):
    """What is trained on what."""
    RANGES: ClassVar[dict] = {"subset": "[1, inf)", "val_subset": "[0, inf)", "img_size": "[1, inf)"}
    model: str = "resnet20_cifar"
    spec: dict = field(default_factory=dict)  # model spec overrides, e.g. {"depths": [1, 1, 1]}
    data: str | None = None  # None: the built-in digits
    subset: int | None = None
    val_subset: int | None = None  # 0: the whole split; None: all, or with a subset a share in proportion
    img_size: int | None = None  # None: the model's own


@dataclass
class OptimiserSettings(Settings):
    """The optimiser and the batch it steps on (train.optim)."""
    CHOICES: ClassVar[dict] = {"optimizer": ("sgd", "adamw", "lamb")}
    RANGES: ClassVar[dict] = {"batch_size": "[1, inf)", "accum_steps": "[1, inf)", "lr": "(0, inf)",
                              "lr_batch": "[1, inf)", "momentum": "[0, 1)", "weight_decay": "[0, inf)"}
    batch_size: int = 128
    # batches of batch_size / accum_steps, one optimiser step per accum_steps of them
    accum_steps: int = 1
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    lr: float = 0.1  # for lr_batch images, scaled linearly with the global batch
    lr_batch: int = 128
    weight_decay: float = 1e-4
    no_decay_norm_bias: bool = False

    def validate(self) -> None:
        super().validate()
        if self.batch_size % self.accum_steps:
            raise ConfigError(f"--batch-size {self.batch_size} must be a multiple of --accum-steps {self.accum_steps}")


@dataclass
class ScheduleSettings(Settings):
    """The run's length in epochs and its learning rate per step (train.schedule)."""
    CHOICES: ClassVar[dict] = {"schedule": ("step", "cosine")}
    RANGES: ClassVar[dict] = {"epochs": "[1, inf)", "gamma": "(0, inf)", "warmup_epochs": "[0, inf)",
                              "min_lr": "[0, inf)"}
    epochs: int = 164
    schedule: str = "step"  # step | cosine
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    min_lr: float = 0.0

    def validate(self) -> None:
        super().validate()
        if self.warmup_epochs > self.epochs:
            raise ConfigError(f"--warmup-epochs {self.warmup_epochs} is longer than the run (--epochs {self.epochs})")


DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass
class ExecutionSettings(Settings):
    """Where and how a run executes, and where it writes (train.runner.processes, the run directory)."""
    CHOICES: ClassVar[dict] = {"amp": ("off", "bf16", "fp16"), "cache": ("auto", "off")}
    RANGES: ClassVar[dict] = {"seed": "[0, inf)", "workers": "[0, inf)", "stop_after_steps": "[1, inf)"}
    output: str = "runs/latest"
    resume: str | None = None
    device: str = "auto"
    amp: str = "off"  # off | bf16 | fp16
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    deterministic: bool = False
    workers: int | None = None
    # auto: small image-folder splits decoded once into memory (cached on disk) and augmented a batch at a time;
    # off: every image decoded from its file each epoch
    cache: str = "auto"
    stop_after_steps: int | None = None  # save a resumable checkpoint and stop (an interruption on demand)
    overwrite: bool = False  # a new run may replace the run files already in --output (from its first checkpoint)
    tensorboard: bool = True
    progress: bool = True

    def validate(self) -> None:
        super().validate()
        if not DEVICE.fullmatch(self.device):
            raise ConfigError(f"--device {self.device!r}: expected auto, cpu, mps, cuda or cuda:N")
        if not self.output.strip():
            raise ConfigError("--output is empty: give the folder for the run")


# how a resumed run is executed may change; what it trains may not (except its length)
RUN_CONTROLS = ("device", "workers", "cache", "progress", "tensorboard", "stop_after_steps", "overwrite")
# controls of one call only: a resume does not inherit them from the call that started or stopped the run
ONE_CALL = {"stop_after_steps": None, "overwrite": False}


def check_fields(cfg, choices: dict, ranges: dict) -> None:
    """Each field of the dataclass `cfg` against its annotated type, its set of values or its interval."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if not _has_type(value, hints[f.name]):
            raise ConfigError(f"{flag(f.name)} {value!r}: expected {_type_name(hints[f.name])}")
        if f.name in choices and value not in choices[f.name]:
            raise ConfigError(f"{flag(f.name)} {value!r}: expected one of {', '.join(choices[f.name])}")
        if f.name in ranges and value is not None and not _in_interval(value, ranges[f.name]):
            raise ConfigError(f"{flag(f.name)} {value}: must be {describe(ranges[f.name])}")


def _has_type(value, hint) -> bool:
    if typing.get_origin(hint) is types.UnionType:
        return any(_has_type(value, h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return isinstance(value, tuple) and all(_has_type(v, typing.get_args(hint)[0]) for v in value)
    if hint is float:  # an int is a fine float; a bool is neither
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typing.get_origin(hint) or hint)


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "").replace("NoneType", "None").replace("<class '", "").replace("'>", "")


def _in_interval(value: float, interval: str) -> bool:
    lo, hi = (float(v) for v in interval[1:-1].split(","))
    above = value > lo if interval[0] == "(" else value >= lo
    below = value < hi if interval[-1] == ")" else value <= hi
    return above and below and not math.isnan(value)


def describe(interval: str) -> str:
    """'[1, inf)' -> 'at least 1'; '(0, 1]' -> 'in (0, 1]'."""
    lo, hi = (v.strip() for v in interval[1:-1].split(","))
    if hi == "inf":
        return f"greater than {lo}" if interval[0] == "(" else f"at least {lo}"
    return f"in {interval}"
