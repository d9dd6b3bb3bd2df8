"""TrainConfig: every setting of a run as plain data, written as JSON beside the run."""
from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReslabError
from .recipes import RECIPES, get_recipe, rescale
from .rundir import CONFIG


class ConfigError(ReslabError, ValueError):
    pass


@dataclass
class TrainConfig:
    # what to train on what
    model: str = "resnet20_cifar"
    spec: dict = field(default_factory=dict)  # model spec overrides, e.g. {"depths": [1, 1, 1]}
    data: str | None = None  # None: the built-in digits
    recipe: str = "cifar"
    subset: int | None = None
    val_subset: int | None = None
    output: str = "runs/latest"
    resume: str | None = None
    # schedule and optimiser (recipe fields)
    epochs: int = 164
    steps: int | None = None  # the run's length in optimiser steps (the paper's iterations); milestones are steps then
    batch_size: int = 128
    lr: float = 0.1
    lr_batch: int = 128
    optimizer: str = "sgd"  # sgd | adamw | lamb
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    no_decay_norm_bias: bool = False
    schedule: str = "step"  # step | cosine
    milestones: tuple[int, ...] = (32000, 48000)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    clip_grad: float = 0.0  # max global gradient norm; 0 = off
    accum_steps: int = 1
    # loss and augmentation
    loss: str = "ce"  # ce | bce
    label_smoothing: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    crop: str = "pad"  # rrc | pad | none
    hflip: bool = True
    color_jitter: float = 0.0
    auto_augment: str = "none"  # none | autoaugment | randaugment | trivialaugment
    randaug_magnitude: int = 9
    random_erasing: float = 0.0
    repeated_aug: int = 1
    img_size: int | None = None  # None: the model's own
    test_size: int | None = None
    test_crop_pct: float | None = None  # None: the model's own
    # audio clips only (data.audio_augment): white noise on a share of the clips at an SNR drawn from a range, and
    # SpecAugment's masks, milder than its LibriSpeech policy: a spoken digit is ~0.4 s (25 frames), one word
    noise_p: float = 0.5  # share of clips given white noise
    snr_db: tuple[float, ...] = (10.0, 40.0)  # the SNR range the noise is drawn in (one value: a fixed SNR)
    freq_masks: int = 2  # this many times, up to freq_mask_bands consecutive mel bands zeroed
    freq_mask_bands: int = 4
    time_masks: int = 1  # this many times, up to time_mask_frames consecutive frames zeroed
    time_mask_frames: int = 5
    # model-side regularisation (spec overrides)
    drop_path_rate: float | None = None
    drop_rate: float | None = None
    zero_init_last: bool | None = None
    depth_scaled_regularisation: bool = False
    ema_decay: float = 0.0  # 0 = no EMA
    # fine-tuning (issue 5)
    weights: str | None = None
    weights_rename: dict[str, str] | None = None  # {regex: replacement} for the --weights checkpoint's keys
    num_classes: int | None = None  # None: the dataset's
    freeze: tuple[str, ...] = ()
    freeze_bn: bool = False
    layer_decay: float | None = None
    head_lr: float | None = None  # head lr as a multiple of the scheduled lr
    # few labels, unlabelled images (issue 16)
    labels_per_class: int | None = None  # train on N labelled images per class, the rest unused as labelled data
    linear_probe: bool = False  # train the classifier only: the backbone frozen whole, BatchNorms included
    semi: str | None = None  # fixmatch | pseudo_label
    unlabelled: str | None = None  # the semi-supervised pool (default: the training split, labels hidden)
    # None: the method's published value (train.semi.SEMI_METHODS)
    semi_threshold: float | None = None  # confidence a pseudo-label needs (FixMatch: 0.95)
    semi_mu: int | None = None  # unlabelled images per labelled one in a batch (FixMatch: 7)
    semi_lambda_u: float | None = None  # weight of the unlabelled loss (FixMatch: 1)
    # execution
    device: str = "auto"
    amp: str = "off"  # off | bf16 | fp16
    channels_last: bool | None = None  # None: as --compile decides (engine.FAST_PATH_IMAGES)
    compile: bool | None = None  # None: on for an image run long enough to pay back compiling it
    sync_bn: bool = False
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
    source: str = field(default="", repr=False)  # the recipe's citation

    def __post_init__(self):
        validate(self)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def save(self, path: Path) -> None:
        from ..files import atomic_write

        atomic_write(Path(path), lambda tmp: Path(tmp).write_text(self.to_json() + "\n"))

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        try:
            values = json.loads(Path(path).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path} is not valid JSON ({e}); it must hold the run's settings") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path} must hold a JSON object of training settings")
        try:
            return cls.from_dict(values)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None


# settings with a fixed set of values
CHOICES = {"recipe": tuple(RECIPES), "optimizer": ("sgd", "adamw", "lamb"), "schedule": ("step", "cosine"),
           "loss": ("ce", "bce"), "crop": ("rrc", "pad", "none"), "cache": ("auto", "off"),
           "amp": ("off", "bf16", "fp16"),
           "auto_augment": ("none", "autoaugment", "randaugment", "trivialaugment")}
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
# numeric settings and their allowed interval; "(" or ")" excludes that end; None values mean "not set"
RANGES = {"epochs": "[1, inf)", "steps": "[1, inf)", "batch_size": "[1, inf)", "lr": "(0, inf)", "lr_batch": "[1, inf)",
          "momentum": "[0, 1)", "weight_decay": "[0, inf)", "gamma": "(0, inf)", "warmup_epochs": "[0, inf)",
          "min_lr": "[0, inf)", "clip_grad": "[0, inf)", "accum_steps": "[1, inf)", "label_smoothing": "[0, 1)",
          "mixup": "[0, inf)", "cutmix": "[0, inf)", "color_jitter": "[0, inf)", "randaug_magnitude": "[0, 30]",
          "random_erasing": "[0, 1]", "repeated_aug": "[1, inf)", "img_size": "[1, inf)", "test_size": "[1, inf)",
          "test_crop_pct": "(0, 1]", "drop_path_rate": "[0, 1)", "drop_rate": "[0, 1)", "ema_decay": "[0, 1)",
          "num_classes": "[1, inf)", "layer_decay": "(0, 1]", "head_lr": "(0, inf)", "seed": "[0, inf)",
          "workers": "[0, inf)", "stop_after_steps": "[1, inf)", "subset": "[1, inf)", "val_subset": "[1, inf)",
          "labels_per_class": "[1, inf)", "noise_p": "[0, 1]", "freq_masks": "[0, inf)", "freq_mask_bands": "[0, inf)",
          "time_masks": "[0, inf)", "time_mask_frames": "[0, inf)", "semi_threshold": "[0, 1]", "semi_mu": "[1, inf)",
          "semi_lambda_u": "[0, inf)"}
SEMI = ("fixmatch", "pseudo_label")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate(cfg: TrainConfig) -> None:
    """Every setting against its type, its set of values or its range: bad input stops here, before any file."""
    check_fields(cfg, CHOICES, RANGES)
    if not DEVICE.fullmatch(cfg.device):
        raise ConfigError(f"--device {cfg.device!r}: expected auto, cpu, mps, cuda or cuda:N")
    if not cfg.output.strip():
        raise ConfigError("--output is empty: give the folder for the run")
    last, unit = (cfg.steps, "steps") if cfg.steps else (cfg.epochs, "epochs")
    if cfg.schedule == "step" and any(not 1 <= m <= last for m in cfg.milestones):
        article = "an" if unit == "epochs" else "a"
        raise ConfigError(f"--milestones {','.join(map(str, cfg.milestones))}: each must be {article} {unit[:-1]} "
                          f"between 1 and the run's last, --{unit} {last} (milestones count {unit} when --steps is "
                          f"{'given' if cfg.steps else 'not given'})")
    if cfg.warmup_epochs > cfg.epochs:
        raise ConfigError(f"--warmup-epochs {cfg.warmup_epochs} is longer than the run (--epochs {cfg.epochs})")
    if cfg.semi is not None and cfg.semi not in SEMI:
        raise ConfigError(f"--semi {cfg.semi!r}: expected one of {', '.join(SEMI)}")
    given = [flag(k) for k in ("unlabelled", "semi_threshold", "semi_mu", "semi_lambda_u")
             if getattr(cfg, k) is not None]
    if given and cfg.semi is None:
        raise ConfigError(f"{given[0]} is a setting of semi-supervised training: give --semi fixmatch or "
                          "pseudo_label with it")
    if not (len(cfg.snr_db) in (1, 2) and cfg.snr_db[0] <= cfg.snr_db[-1]):
        raise ConfigError(f"--snr-db {','.join(map(str, cfg.snr_db))}: give one SNR in dB (e.g. 20) or a range to "
                          "draw from, low,high (e.g. 10,40)")
    if cfg.batch_size % cfg.accum_steps:
        raise ConfigError(f"--batch-size {cfg.batch_size} must be a multiple of --accum-steps {cfg.accum_steps}")


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
            raise ConfigError(f"{flag(f.name)} {value}: must be {_describe(ranges[f.name])}")


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


def _describe(interval: str) -> str:
    lo, hi = (v.strip() for v in interval[1:-1].split(","))
    if hi == "inf":
        return f"greater than {lo}" if interval[0] == "(" else f"at least {lo}"
    return f"in {interval}"


# how a resumed run is executed may change; what it trains may not (except its length)
RUN_CONTROLS = ("device", "workers", "cache", "progress", "tensorboard", "stop_after_steps", "overwrite")
# controls of one call only: a resume does not inherit them from the call that started or stopped the run
ONE_CALL = {"stop_after_steps": None, "overwrite": False}


def resume_config(given: dict) -> TrainConfig:
    """The saved settings of the run in given["resume"], with the given run controls and --epochs applied;
    any other setting given that differs from the saved one is refused, named."""
    run_dir = Path(given["resume"])
    if not run_dir.is_dir():
        raise ConfigError(f"cannot resume: {run_dir} is not a folder (give the --output folder of an earlier run)")
    if not (run_dir / CONFIG).is_file():
        raise ConfigError(f"cannot resume from {run_dir}: no {CONFIG} there (not a reslab run directory)")
    saved = TrainConfig.load(run_dir / CONFIG)
    _say_settings_it_lacks(run_dir / CONFIG, saved)
    if "epochs" not in given:  # the length the run last had: an earlier resume may have changed it
        from .checkpoint import saved_epochs

        given = {**given, "epochs": saved_epochs(run_dir) or saved.epochs}
    changes = {k: v for k, v in given.items() if k not in ("resume", "output") and v != getattr(saved, k)}
    refused = [flag(k) for k in changes if k not in (*RUN_CONTROLS, "epochs")]
    if "output" in given and Path(given["output"]) != run_dir:
        refused.append("--output")
    if refused:
        raise ConfigError(f"cannot change {', '.join(refused)} when resuming {run_dir}: a resumed run keeps its "
                          f"recipe (only --epochs and {', '.join(map(flag, RUN_CONTROLS))} may change); start a new "
                          f"run from its weights instead: --weights {run_dir / 'last.safetensors'}")
    return dataclasses.replace(saved, resume=str(run_dir), output=str(run_dir), **{**ONE_CALL, **changes})


def _say_settings_it_lacks(path: Path, saved) -> None:
    """A run saved by an older ResLab lacks the settings added since: they take today's defaults, which keep the
    old meaning (a missing --steps: the length and milestones in epochs, as then); say which."""
    written = set(json.loads(path.read_text()))
    lacking = [f for f in dataclasses.fields(saved) if f.name not in written and f.name not in ONE_CALL]
    if lacking:
        print(f"{path} was written by an older ResLab; settings it lacks take today's defaults: "
              + ", ".join(f"{flag(f.name)} {getattr(saved, f.name)}" for f in lacking))


def recipe_with(values: dict, overrides: dict) -> dict:
    """A recipe's values, rescaled to `epochs` or `steps` if the overrides give one, then the other overrides."""
    overrides = dict(overrides)
    epochs, steps = overrides.pop("epochs", None), overrides.pop("steps", None)
    if steps is not None and epochs is not None:
        raise ConfigError(f"--epochs {epochs} and --steps {steps} both set the run's length: give one")
    if steps is not None and steps != values.get("steps"):
        values = rescale(values, steps=steps)
    elif epochs is not None and (values.get("steps") or epochs != values["epochs"]):
        values = rescale(values, epochs=epochs)
    return {**values, **overrides}


def from_recipe(recipe: str = "cifar", **overrides) -> TrainConfig:
    """The recipe's values, rescaled to `epochs` if given, then the other overrides."""
    return TrainConfig.from_dict(recipe_with(get_recipe(recipe), {"recipe": recipe, **overrides}))


def default_job(**overrides) -> TrainConfig:
    """`reslab train` with no arguments: a CIFAR ResNet on the built-in digits, about a minute on 2 CPU cores."""
    return from_recipe("cifar", **{**DEFAULT_JOB, **overrides})


# the default job: resnet20_cifar, 6 epochs of batch 64 on the 1,438 training digits
DEFAULT_JOB = dict(model="resnet20_cifar", epochs=6, batch_size=64, lr_batch=64)
