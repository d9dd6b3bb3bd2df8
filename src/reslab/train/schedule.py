"""Learning rate per optimiser step: linear warm-up, then step decay (milestones in epochs, or in steps for a run whose
length is given in steps) or cosine; every group gets its lr_scale."""
from __future__ import annotations

import math

from ..errors import ReslabError
from .settings import ScheduleSettings


class LrSchedule:
    def __init__(self, optimizer, cfg: ScheduleSettings, base_lr: float, steps_per_epoch: int,
                 steps: int | None = None, passes_per_step: int = 1):
        """`steps`: the run's length in optimiser steps of `passes_per_step` forward passes each, its milestones
        counted in steps; None: `cfg.epochs` epochs of `steps_per_epoch` passes, its milestones in epochs."""
        if cfg.schedule not in ("step", "cosine"):
            raise ReslabError(f"schedule={cfg.schedule!r}: expected step or cosine")
        self.optimizer, self.cfg, self.base_lr, self.steps_per_epoch = optimizer, cfg, base_lr, steps_per_epoch
        unit = passes_per_step if steps else steps_per_epoch  # forward passes per milestone unit
        self.total = steps * unit if steps else cfg.epochs * steps_per_epoch
        self.milestone_steps = [m * unit for m in cfg.milestones]
        self.warmup = round(cfg.warmup_epochs * steps_per_epoch)

    def lr_at(self, step: int) -> float:
        cfg = self.cfg
        if step < self.warmup:
            return self.base_lr * (step + 1) / self.warmup
        if cfg.schedule == "step":
            passed = sum(step >= m for m in self.milestone_steps)
            return self.base_lr * cfg.gamma ** passed
        progress = (step - self.warmup) / max(1, self.total - self.warmup)
        return cfg.min_lr + (self.base_lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))

    def set(self, step: int) -> float:
        lr = self.lr_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr
