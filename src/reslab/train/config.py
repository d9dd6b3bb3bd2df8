"""TrainConfig: every setting of a supervised run as plain data (train.settings' parts and its own fields),
written as JSON beside the run; recipes, resume and the default job."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from .recipes import RECIPES, get_recipe, rescale
from .rundir import CONFIG
from .settings import (ONE_CALL, RUN_CONTROLS, ConfigError, DataSettings, ExecutionSettings, OptimiserSettings,
                       ScheduleSettings, flag)


@dataclass
class TrainConfig(ExecutionSettings, ScheduleSettings, OptimiserSettings, DataSettings):
    """A supervised run: the shared parts (train.settings) with their defaults as the cifar recipe has them, and
    what only supervised training has. The field order is the parts' (data, optimiser, schedule, execution), then
    these."""
    CHOICES: ClassVar[dict] = {"recipe": tuple(RECIPES), "loss": ("ce", "bce"), "crop": ("rrc", "pad", "none"),
                               "auto_augment": ("none", "autoaugment", "randaugment", "trivialaugment")}
    RANGES: ClassVar[dict] = {
        "steps": "[1, inf)", "clip_grad": "[0, inf)", "label_smoothing": "[0, 1)", "mixup": "[0, inf)",
        "cutmix": "[0, inf)", "color_jitter": "[0, inf)", "randaug_magnitude": "[0, 30]", "random_erasing": "[0, 1]",
        "repeated_aug": "[1, inf)", "test_size": "[1, inf)", "test_crop_pct": "(0, 1]", "drop_path_rate": "[0, 1)",
        "drop_rate": "[0, 1)", "ema_decay": "[0, 1)", "num_classes": "[1, inf)", "layer_decay": "(0, 1]",
        "head_lr": "(0, inf)", "labels_per_class": "[1, inf)", "noise_p": "[0, 1]", "freq_masks": "[0, inf)",
        "freq_mask_bands": "[0, inf)", "time_masks": "[0, inf)", "time_mask_frames": "[0, inf)",
        "semi_threshold": "[0, 1]", "semi_mu": "[1, inf)", "semi_lambda_u": "[0, inf)"}
    # the parts' fields whose default differs here: TrainConfig() is the paper's 164 epochs (the cifar recipe says
    # the same schedule in its own unit, steps)
    milestones: tuple[int, ...] = (82, 123)
    channels_last: bool | None = None  # None: as --compile decides (engine.FAST_PATH_IMAGES)
    compile: bool | None = None  # None: on for an image run long enough to pay back compiling it
    # supervised training only
    recipe: str = "cifar"
    steps: int | None = None  # the run's length in optimiser steps (the paper's iterations); milestones are steps then
    clip_grad: float = 0.0  # max global gradient norm; 0 = off
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
    sync_bn: bool = False

    def validate(self) -> None:
        """Every setting against its type, its set of values or its range: bad input stops here, before any file."""
        super().validate()
        last, unit = (self.steps, "steps") if self.steps else (self.epochs, "epochs")
        if self.schedule == "step" and any(not 1 <= m <= last for m in self.milestones):
            article = "an" if unit == "epochs" else "a"
            raise ConfigError(f"--milestones {','.join(map(str, self.milestones))}: each must be {article} "
                              f"{unit[:-1]} between 1 and the run's last, --{unit} {last} (milestones count {unit} "
                              f"when --steps is {'given' if self.steps else 'not given'})")
        if self.semi is not None and self.semi not in SEMI:
            raise ConfigError(f"--semi {self.semi!r}: expected one of {', '.join(SEMI)}")
        given = [flag(k) for k in ("unlabelled", "semi_threshold", "semi_mu", "semi_lambda_u")
                 if getattr(self, k) is not None]
        if given and self.semi is None:
            raise ConfigError(f"{given[0]} is a setting of semi-supervised training: give --semi fixmatch or "
                              "pseudo_label with it")
        if not (len(self.snr_db) in (1, 2) and self.snr_db[0] <= self.snr_db[-1]):
            raise ConfigError(f"--snr-db {','.join(map(str, self.snr_db))}: give one SNR in dB (e.g. 20) or a range "
                              "to draw from, low,high (e.g. 10,40)")


SEMI = ("fixmatch", "pseudo_label")
# every setting with a fixed set of values, and every numeric one with its interval (the CLI's help shows them)
CHOICES, RANGES = TrainConfig.choices(), TrainConfig.ranges()


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
