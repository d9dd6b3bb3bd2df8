"""Optimisers (SGD + Nesterov, AdamW, LAMB) over parameter groups that may skip weight decay and scale the lr."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ReslabError
from .settings import OptimiserSettings


class Lamb(torch.optim.Optimizer):
    """LAMB (You et al. 2020, Algorithm 2): Adam's step, rescaled per tensor by ||w|| / ||step||."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(p.grad, 1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                m_hat = m / (1 - beta1 ** state["step"])
                v_hat = v / (1 - beta2 ** state["step"])
                update = m_hat / (v_hat.sqrt() + group["eps"]) + group["weight_decay"] * p
                w_norm, u_norm = p.norm(), update.norm()
                trust = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))
                p.add_(update * trust, alpha=-group["lr"])


def param_groups(model: nn.Module, weight_decay: float, no_decay_norm_bias: bool) -> list[dict]:
    """Trainable parameters; with `no_decay_norm_bias`, biases and norm weights (the 1-D tensors) get no weight
    decay (Bag of Tricks, Sec. 3.1)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not no_decay_norm_bias:
        return [{"params": trainable, "weight_decay": weight_decay, "lr_scale": 1.0}]
    return [{"params": [p for p in trainable if p.ndim > 1], "weight_decay": weight_decay, "lr_scale": 1.0},
            {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0, "lr_scale": 1.0}]


def build_optimizer(groups: list[dict], cfg: OptimiserSettings, lr: float) -> torch.optim.Optimizer:
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ReslabError("nothing to train: every parameter is frozen")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if cfg.optimizer == "lamb":
        return Lamb(groups, lr=lr)
    raise ReslabError(f"optimizer={cfg.optimizer!r}: expected sgd, adamw or lamb")
