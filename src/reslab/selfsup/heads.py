"""Projection and prediction MLPs on top of a backbone's pooled features."""
from __future__ import annotations

from torch import nn


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, *, bn: bool = True,
        last_bn: bool = False) -> nn.Sequential:
    """`layers` linear layers, BatchNorm (when `bn`) and ReLU between them; `last_bn` adds an affine-free BatchNorm
    after the last (SimSiam's projector, Sec. 4)."""
    dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    parts: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        last = i == layers - 1
        parts.append(nn.Linear(a, b, bias=not (bn and not last)))
        if not last:
            parts += ([nn.BatchNorm1d(b)] if bn else []) + [nn.ReLU(inplace=True)]
    if last_bn:
        parts.append(nn.BatchNorm1d(out_dim, affine=False))
    return nn.Sequential(*parts)
