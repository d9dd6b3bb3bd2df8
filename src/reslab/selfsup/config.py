"""PretrainConfig: every setting of a pre-training run as plain data (train.settings' parts and the method's own
fields, from its recipe in methods.py), written as JSON beside the run."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..train.config import recipe_with
from ..train.rundir import CONFIG
from ..train.settings import (ONE_CALL, RUN_CONTROLS, ConfigError, DataSettings, ExecutionSettings, OptimiserSettings,
                              ScheduleSettings, flag)
from .methods import METHODS, get_method


@dataclass
class PretrainConfig(ExecutionSettings, ScheduleSettings, OptimiserSettings, DataSettings):
    """A pre-training run: the shared parts (train.settings) with SimCLR's defaults, and the method's own fields
    (from its recipe, methods.py). A folder of images needs no class folders; `val_subset` is what the kNN monitor
    classifies each epoch."""
    KIND: ClassVar[str] = "pre-training"
    CHOICES: ClassVar[dict] = {"method": tuple(METHODS), "loss": ("nt_xent", "info_nce", "byol", "simsiam", "barlow"),
                               "schedule": ("cosine", "step"), "cross_process_bn": ("global", "shuffle", "local")}
    RANGES: ClassVar[dict] = {
        "temperature": "(0, inf)", "proj_dim": "[1, inf)", "proj_hidden": "[0, inf)", "proj_layers": "[1, inf)",
        "pred_hidden": "[0, inf)", "momentum_base": "[0, 1)", "queue_size": "[0, inf)", "barlow_lambda": "[0, inf)",
        "crop_min_scale": "(0, 1]", "color_jitter": "[0, inf)", "jitter_p": "[0, 1]", "gray_p": "[0, 1]",
        "knn_k": "[1, inf)", "knn_t": "(0, inf)"}
    # the parts' fields whose default differs here (SimCLR's)
    output: str = "runs/pretrain"
    epochs: int = 500
    batch_size: int = 512
    lr: float = 0.3
    lr_batch: int = 256
    weight_decay: float = 1e-6
    no_decay_norm_bias: bool = True
    schedule: str = "cosine"
    warmup_epochs: float = 10.0
    compile: bool = False  # torch.compile each network (online, target, predictor) in place: checkpoint keys unchanged
    # the method (recipe fields)
    method: str = "simclr"
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
    crop_min_scale: float = 0.08
    color_jitter: float = 0.5
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: tuple[float, ...] = (0.5, 0.5)
    solarize_p: tuple[float, ...] = (0.0, 0.0)
    # kNN monitor (Wu et al. 2018, InstDisc; as MoCo's monitor)
    knn_k: int = 200
    knn_t: float = 0.1

    def validate(self) -> None:
        super().validate()
        for name in ("blur_p", "solarize_p"):
            if len(getattr(self, name)) != 2 or not all(0 <= p <= 1 for p in getattr(self, name)):
                raise ConfigError(f"{flag(name)} {','.join(map(str, getattr(self, name)))}: give two probabilities "
                                  f"in [0, 1], one per view")
        if self.loss in ("byol", "simsiam") and not self.pred_hidden:
            raise ConfigError(f"--loss {self.loss} regresses a prediction head's output: give --pred-hidden N")
        if self.loss in ("byol", "info_nce") and not self.momentum_base:
            raise ConfigError(f"--loss {self.loss} compares with a momentum encoder: give --momentum-base (0, 1)")
        if self.cross_process_bn == "shuffle" and self.loss != "info_nce":
            raise ConfigError(f"--cross-process-bn shuffle shuffles a momentum encoder's keys (MoCo); --loss "
                              f"{self.loss} has none to shuffle: use global or local")
        if self.loss == "info_nce" and not self.queue_size:
            raise ConfigError("--loss info_nce draws its negatives from a queue: give --queue-size N")


CHOICES, RANGES = PretrainConfig.choices(), PretrainConfig.ranges()


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
