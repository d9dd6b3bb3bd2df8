"""TrainConfig: every setting of a run as plain data, written as JSON beside the run."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReslabError
from .recipes import get_recipe, rescale_epochs


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
    batch_size: int = 128
    lr: float = 0.1
    lr_batch: int = 128
    optimizer: str = "sgd"  # sgd | adamw | lamb
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    no_decay_norm_bias: bool = False
    schedule: str = "step"  # step | cosine
    milestones: tuple[int, ...] = (82, 123)
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
    # model-side regularisation (spec overrides)
    drop_path_rate: float | None = None
    drop_rate: float | None = None
    zero_init_last: bool | None = None
    depth_scaled_regularisation: bool = False
    ema_decay: float = 0.0  # 0 = no EMA
    # fine-tuning (issue 5)
    weights: str | None = None
    num_classes: int | None = None  # None: the dataset's
    freeze: tuple[str, ...] = ()
    freeze_bn: bool = False
    layer_decay: float | None = None
    head_lr: float | None = None  # head lr as a multiple of the scheduled lr
    # execution
    device: str = "auto"
    amp: str = "off"  # off | bf16 | fp16
    channels_last: bool = False
    compile: bool = False
    sync_bn: bool = False
    seed: int = 0
    deterministic: bool = False
    workers: int | None = None
    stop_after_steps: int | None = None  # save a resumable checkpoint and stop (an interruption on demand)
    tensorboard: bool = True
    progress: bool = True
    source: str = field(default="", repr=False)  # the recipe's citation

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def from_recipe(recipe: str = "cifar", **overrides) -> TrainConfig:
    """The recipe's values, rescaled to `epochs` if given, then the other overrides."""
    values = get_recipe(recipe)
    epochs = overrides.pop("epochs", None)
    if epochs is not None and epochs != values["epochs"]:
        values = rescale_epochs(values, epochs)
    return TrainConfig.from_dict({**values, "recipe": recipe, **overrides})


def default_job(**overrides) -> TrainConfig:
    """`reslab train` with no arguments: a CIFAR ResNet on the built-in digits, about a minute on 2 CPU cores."""
    return from_recipe("cifar", **{**DEFAULT_JOB, **overrides})


# the default job: resnet20_cifar, 6 epochs of batch 64 on the 1,438 training digits
DEFAULT_JOB = dict(model="resnet20_cifar", epochs=6, batch_size=64, lr_batch=64)
