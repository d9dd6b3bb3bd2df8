"""PretrainConfig: every setting of a pre-training run as plain data, written as JSON beside the run. The data
and run options are `reslab train`'s; the method's fields come from its recipe (methods.py)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..train.config import ONE_CALL, RUN_CONTROLS, ConfigError, check_fields, flag, recipe_with
from ..train.rundir import CONFIG
from .methods import METHODS, get_method


@dataclass
class PretrainConfig:
    method: str = "simclr"
    model: str = "resnet20_cifar"
    spec: dict = field(default_factory=dict)
    data: str | None = None  # None: the built-in digits; a folder of images needs no class folders
    subset: int | None = None
    val_subset: int | None = None  # validation images the kNN monitor classifies each epoch
    output: str = "runs/pretrain"
    resume: str | None = None
    # the method (recipe fields)
    loss: str = "nt_xent"
    temperature: float = 0.5
    proj_hidden: int = 0  # 0: the backbone's num_features
    proj_dim: int = 128
    proj_layers: int = 2
    proj_bn: bool = True
    proj_last_bn: bool = False
    pred_hidden: int = 0  # 0: no predictor
    momentum_base: float = 0.0  # 0: no momentum encoder
    momentum_cosine: bool = False
    queue_size: int = 0
    barlow_lambda: float = 0.0
    # BatchNorm under several processes: statistics of the whole batch (global), or each process's own with MoCo's
    # keys encoded from images shuffled across processes (shuffle), or each process's own (local)
    cross_process_bn: str = "global"
    # views
    img_size: int | None = None
    crop_min_scale: float = 0.08
    color_jitter: float = 0.5
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: tuple[float, ...] = (0.5, 0.5)
    solarize_p: tuple[float, ...] = (0.0, 0.0)
    # optimiser and schedule
    epochs: int = 500
    batch_size: int = 512
    # batches of batch_size / accum_steps, one optimiser step per accum_steps of them: the gradient of the whole batch
    # for per-image losses (BYOL, SimSiam); contrastive losses and BatchNorm see one part at a time
    accum_steps: int = 1
    optimizer: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    lr: float = 0.3
    lr_batch: int = 256
    weight_decay: float = 1e-6
    no_decay_norm_bias: bool = True
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup_epochs: float = 10.0
    min_lr: float = 0.0
    # kNN monitor (Wu et al. 2018, InstDisc; as MoCo's monitor)
    knn_k: int = 200
    knn_t: float = 0.1
    # execution
    device: str = "auto"
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False  # torch.compile each network (online, target, predictor) in place: checkpoint keys unchanged
    seed: int = 0
    deterministic: bool = False
    workers: int | None = None
    cache: str = "auto"
    stop_after_steps: int | None = None
    overwrite: bool = False  # a new run may replace the run files already in --output (from its first checkpoint)
    tensorboard: bool = True
    progress: bool = True
    source: str = field(default="", repr=False)

    def __post_init__(self):
        validate(self)

    def save(self, path: Path) -> None:
        from ..files import atomic_write

        text = json.dumps(dataclasses.asdict(self), indent=2) + "\n"
        atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))

    @classmethod
    def from_dict(cls, d: dict) -> "PretrainConfig":
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown pre-training settings: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


CHOICES = {"method": tuple(METHODS), "loss": ("nt_xent", "info_nce", "byol", "simsiam", "barlow"),
           "optimizer": ("sgd", "adamw", "lamb"), "schedule": ("cosine", "step"), "amp": ("off", "bf16", "fp16"),
           "cache": ("auto", "off"), "cross_process_bn": ("global", "shuffle", "local")}
RANGES = {"temperature": "(0, inf)", "proj_dim": "[1, inf)", "proj_hidden": "[0, inf)", "proj_layers": "[1, inf)",
          "pred_hidden": "[0, inf)", "momentum_base": "[0, 1)", "queue_size": "[0, inf)", "barlow_lambda": "[0, inf)",
          "img_size": "[1, inf)", "crop_min_scale": "(0, 1]", "color_jitter": "[0, inf)", "jitter_p": "[0, 1]",
          "gray_p": "[0, 1]", "epochs": "[1, inf)", "batch_size": "[1, inf)", "accum_steps": "[1, inf)",
          "momentum": "[0, 1)", "lr": "(0, inf)", "lr_batch": "[1, inf)", "weight_decay": "[0, inf)",
          "warmup_epochs": "[0, inf)", "min_lr": "[0, inf)",
          "knn_k": "[1, inf)", "knn_t": "(0, inf)", "seed": "[0, inf)", "workers": "[0, inf)",
          "stop_after_steps": "[1, inf)", "subset": "[1, inf)", "val_subset": "[1, inf)"}


def validate(cfg: PretrainConfig) -> None:
    check_fields(cfg, CHOICES, RANGES)
    for name in ("blur_p", "solarize_p"):
        if len(getattr(cfg, name)) != 2 or not all(0 <= p <= 1 for p in getattr(cfg, name)):
            raise ConfigError(f"{flag(name)} {','.join(map(str, getattr(cfg, name)))}: give two probabilities "
                              f"in [0, 1], one per view")
    if cfg.batch_size % cfg.accum_steps:
        raise ConfigError(f"--batch-size {cfg.batch_size} must be a multiple of --accum-steps {cfg.accum_steps}")
    if cfg.warmup_epochs > cfg.epochs:
        raise ConfigError(f"--warmup-epochs {cfg.warmup_epochs} is longer than the run (--epochs {cfg.epochs})")
    if cfg.loss in ("byol", "simsiam") and not cfg.pred_hidden:
        raise ConfigError(f"--loss {cfg.loss} regresses a prediction head's output: give --pred-hidden N")
    if cfg.loss in ("byol", "info_nce") and not cfg.momentum_base:
        raise ConfigError(f"--loss {cfg.loss} compares with a momentum encoder: give --momentum-base (0, 1)")
    if cfg.cross_process_bn == "shuffle" and cfg.loss != "info_nce":
        raise ConfigError(f"--cross-process-bn shuffle shuffles a momentum encoder's keys (MoCo); --loss {cfg.loss} "
                          f"has none to shuffle: use global or local")
    if cfg.loss == "info_nce" and not cfg.queue_size:
        raise ConfigError("--loss info_nce draws its negatives from a queue: give --queue-size N")


def from_method(method: str = "simclr", **overrides) -> PretrainConfig:
    """The method's recipe, rescaled to `epochs` if given, then the other overrides."""
    return PretrainConfig.from_dict(recipe_with(get_method(method), {"method": method, **overrides}))


def resume_config(given: dict) -> PretrainConfig:
    """The saved settings of the run in given["resume"], with --epochs and the run controls given applied."""
    run_dir = Path(given["resume"])
    if not (run_dir / CONFIG).is_file():
        raise ConfigError(f"cannot resume from {run_dir}: no {CONFIG} there (not a reslab pre-training run)")
    try:
        saved = PretrainConfig.from_dict(json.loads((run_dir / CONFIG).read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as e:
        raise ConfigError(f"{run_dir / CONFIG} is not a pre-training run's settings ({e})") from None
    if "epochs" not in given:  # the length the run last had: an earlier resume may have changed it
        from ..train.checkpoint import saved_epochs

        given = {**given, "epochs": saved_epochs(run_dir) or saved.epochs}
    changes = {k: v for k, v in given.items() if k not in ("resume", "output") and v != getattr(saved, k)}
    refused = [flag(k) for k in changes if k not in (*RUN_CONTROLS, "epochs")]
    if refused:
        raise ConfigError(f"cannot change {', '.join(refused)} when resuming {run_dir}: only --epochs and "
                          f"{', '.join(map(flag, RUN_CONTROLS))} may change")
    return dataclasses.replace(saved, resume=str(run_dir), output=str(run_dir), **{**ONE_CALL, **changes})
