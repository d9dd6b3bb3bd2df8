"""A backbone of any family with a method's heads, momentum encoder and queue: `forward(views)` is the loss.

The backbone is used through the family protocol only (`forward_features`, `forward_head(pre_logits=True)`,
`num_features`), so every family pre-trains the same way.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..train.collectives import gather, gather_with_grad
from . import losses
from .gather import encode_shuffled
from .heads import mlp


class Embedder(nn.Module):
    """Backbone features pooled (the classifier's input), then the projection MLP."""

    def __init__(self, backbone: nn.Module, projector: nn.Module):
        super().__init__()
        self.backbone, self.projector = backbone, projector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True))


class SelfSupervised(nn.Module):
    def __init__(self, backbone: nn.Module, cfg):
        super().__init__()
        self.cfg = cfg
        d = backbone.num_features
        hidden = cfg.proj_hidden or d
        self.online = Embedder(backbone, mlp(d, hidden, cfg.proj_dim, cfg.proj_layers, bn=cfg.proj_bn,
                                             last_bn=cfg.proj_last_bn))
        self.predictor = mlp(cfg.proj_dim, cfg.pred_hidden, cfg.proj_dim, 2) if cfg.pred_hidden else None
        self.target = None
        if cfg.momentum_base > 0:  # a copy updated by moving average only, never by gradients
            self.target = copy.deepcopy(self.online).requires_grad_(False)
        if cfg.queue_size:
            self.register_buffer("queue", F.normalize(torch.randn(cfg.queue_size, cfg.proj_dim), dim=1))
            self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.progress = 0.0  # fraction of the run done: BYOL's momentum follows a cosine in it

    @property
    def backbone(self) -> nn.Module:
        return self.online.backbone

    def momentum(self) -> float:
        """MoCo: constant; BYOL (Sec. 3.2): 1 - (1 - base) (cos(pi k / K) + 1) / 2."""
        base = self.cfg.momentum_base
        if not self.cfg.momentum_cosine:
            return base
        return 1 - (1 - base) * (math.cos(math.pi * self.progress) + 1) / 2

    @torch.no_grad()
    def update_target(self) -> None:
        m = self.momentum()
        for t, o in zip(self.target.parameters(), self.online.parameters()):
            t.lerp_(o.detach(), 1 - m)
        for t, o in zip(self.target.buffers(), self.online.buffers()):
            t.copy_(o)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """The newest keys replace the oldest (the queue length is a multiple of the global batch)."""
        ptr = int(self.queue_ptr)
        self.queue[ptr:ptr + len(keys)] = keys
        self.queue_ptr.fill_((ptr + len(keys)) % len(self.queue))

    def forward(self, views: torch.Tensor, update_target: bool = True) -> torch.Tensor:
        """views: (N, 2, C, H, W), the two views of each image. `update_target`: move the momentum encoder first
        (once per optimiser step: not again for the later parts of an accumulated batch)."""
        cfg = self.cfg
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
        v1, v2 = views[:, 0].contiguous(memory_format=fmt), views[:, 1].contiguous(memory_format=fmt)
        if self.target is not None and update_target:
            self.update_target()  # before this step's keys, as MoCo's Algorithm 1
        if cfg.loss == "nt_xent":
            return losses.nt_xent(gather_with_grad(self.online(v1)), gather_with_grad(self.online(v2)),
                                  cfg.temperature)
        if cfg.loss == "barlow":
            return losses.barlow_twins(gather_with_grad(self.online(v1)), gather_with_grad(self.online(v2)),
                                       cfg.barlow_lambda)
        if cfg.loss == "info_nce":
            q = F.normalize(self.online(v1), dim=1)
            with torch.no_grad():
                k = F.normalize(encode_shuffled(self.target, v2) if cfg.cross_process_bn == "shuffle"
                                else self.target(v2), dim=1)
            loss = losses.info_nce(q, k, self.queue.clone(), cfg.temperature)
            self.enqueue(gather(k))
            return loss
        z1, z2 = self.online(v1), self.online(v2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        if cfg.loss == "simsiam":
            return (losses.negative_cosine(p1, z2) + losses.negative_cosine(p2, z1)) / 2
        with torch.no_grad():  # byol: each view's prediction regresses the target network's other view
            t1, t2 = self.target(v1), self.target(v2)
        return losses.byol_loss(p1, t2) + losses.byol_loss(p2, t1)
