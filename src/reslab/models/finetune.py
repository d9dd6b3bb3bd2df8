"""Adapting a trained network: freeze parts of it, fix its norms, decay learning rates by depth, add attention.

A model's parts are named as `reslab info` prints them: "stem", "stage1".."stageN", "head". Every family
exposes `stages`; what was registered before the first stage is the stem, what comes after the last is the head.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ReslabError
from ..layers import make_attention, reduced_channels


class FinetuneError(ReslabError, ValueError):
    """A part name, attention kind or stage that does not exist in this model."""


class FrozenBatchNorm2d(nn.BatchNorm2d):
    """A BatchNorm that always normalises with its stored statistics and never updates them or its affine.

    It stays a BatchNorm2d with the same state-dict keys, so checkpoints of a frozen model load anywhere.
    """

    def train(self, mode: bool = True) -> "FrozenBatchNorm2d":
        return super().train(False)  # model.train() must not bring batch statistics back

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


def part_names(model: nn.Module) -> list[str]:
    return ["stem"] + [f"stage{i + 1}" for i in range(len(model.stages))] + ["head"]


def parameter_parts(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Named parameters of each part, in depth order."""
    if not hasattr(model, "stages"):
        raise FinetuneError(f"{type(model).__name__} is not a ResLab model (it has no stages)")
    stage_of = {id(p): f"stage{i + 1}" for i, stage in enumerate(model.stages) for p in stage.parameters()}
    parts: dict[str, list] = {name: [] for name in part_names(model)}
    seen_stage = False
    for name, p in model.named_parameters():
        if id(p) in stage_of:
            seen_stage = True
            parts[stage_of[id(p)]].append((name, p))
        else:
            parts["head" if seen_stage else "stem"].append((name, p))
    return parts


def _check_parts(model: nn.Module, names: list[str]) -> None:
    valid = part_names(model)
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise FinetuneError(f"unknown part(s) {unknown}; this model's parts are {valid}")


def freeze(model: nn.Module, up_to: str | None = None, names: list[str] | None = None) -> list[str]:
    """Stop training the named parts (or every part up to and including `up_to`); returns the frozen names.

    A frozen part keeps its weights and its norm statistics: its BatchNorms become FrozenBatchNorm2d.
    """
    if (up_to is None) == (names is None):
        raise FinetuneError("give exactly one of up_to='stage2' or names=['stem', 'stage1']")
    valid = part_names(model)
    _check_parts(model, [up_to] if up_to is not None else list(names))
    chosen = valid[: valid.index(up_to) + 1] if up_to is not None else [n for n in valid if n in names]
    parts = parameter_parts(model)
    frozen_params = {id(p) for n in chosen for _, p in parts[n]}
    for _, p in model.named_parameters():
        if id(p) in frozen_params:
            p.requires_grad_(False)
    _freeze_norms(model, lambda bn: bn.weight is not None and id(bn.weight) in frozen_params)
    return chosen


def freeze_bn(model: nn.Module) -> None:
    """Fix every BatchNorm's statistics and affine, in train mode too (small-batch fine-tuning, detection)."""
    _freeze_norms(model, lambda bn: True)


def _freeze_norms(model: nn.Module, selected) -> None:
    for parent in list(model.modules()):
        for child_name, child in parent.named_children():
            if type(child) is nn.BatchNorm2d and selected(child):
                frozen = FrozenBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                           child.track_running_stats)
                frozen.load_state_dict(child.state_dict())
                for p in frozen.parameters():
                    p.requires_grad_(False)
                setattr(parent, child_name, frozen)


def layer_decay_param_groups(model: nn.Module, weight_decay: float, layer_decay: float,
                             head_lr_scale: float = 1.0) -> list[dict]:
    """Optimizer groups whose `lr_scale` shrinks by `layer_decay` per part from the head down to the stem.

    Biases and norm parameters (1-D) get no weight decay; frozen parameters are left out.
    """
    if not 0.0 < layer_decay <= 1.0:
        raise FinetuneError(f"layer_decay must be in (0, 1], got {layer_decay}")
    parts = parameter_parts(model)
    depth = len(parts) - 1  # the head sits at depth, the stem at 0
    groups = []
    for level, (part, named) in enumerate(parts.items()):
        scale = head_lr_scale if part == "head" else layer_decay ** (depth - level)
        trainable = [(n, p) for n, p in named if p.requires_grad]
        for decayed in (True, False):
            params = [p for _, p in trainable if (p.ndim > 1) == decayed]
            if params:
                groups.append({"params": params, "weight_decay": weight_decay if decayed else 0.0,
                               "lr_scale": scale, "name": f"{part}{'' if decayed else '_no_decay'}"})
    return groups


# gate value of each freshly inserted attention at its zero init: sigmoid(0) per multiplication
GATE_AT_INIT = {"se": 0.5, "eca": 0.5, "cbam": 0.25}


def insert_attention(model: nn.Module, kind: str = "se", stages: tuple[int, ...] | list[int] | None = None
                     ) -> nn.Module:
    """Add attention of `kind` to every block of `stages` (1-based; default all), leaving the output unchanged.

    The gate's last layer starts at zero so it multiplies by a constant (1/2, or 1/4 for CBAM's two gates); the
    branch's last norm (or conv, pre-activation) is scaled by the inverse, a power of two, so the block computes
    exactly what it did. The gates are those `build` creates for the new spec (attention per stage), which
    `model.spec` becomes, so `reslab diff` shows the change and checkpoints reload.
    """
    if kind not in GATE_AT_INIT:
        raise FinetuneError(f"attention kind {kind!r}: choose one of {sorted(GATE_AT_INIT)}")
    spec = getattr(model, "spec", None)
    if spec is None or not hasattr(spec, "attention"):
        raise FinetuneError(f"insert_attention needs a ResNet-family model, got {type(model).__name__}")
    all_stages = list(range(1, spec.num_stages + 1))
    stages = list(stages) if stages is not None else all_stages
    bad = [s for s in stages if s not in all_stages]
    if bad:
        raise FinetuneError(f"stage(s) {bad} do not exist; this model has stages {all_stages}")
    current = list(spec.stage_values("attention"))
    taken = [s for s in stages if current[s - 1] != "none"]
    if taken:
        raise FinetuneError(f"stage(s) {taken} already have attention ({spec.attention!r}); choose stages without")
    if any(a != "none" for a in current) and (spec.attention_position, spec.attention_base) != ("output", "gated"):
        raise FinetuneError(f"this model's gates sit at attention_position={spec.attention_position!r} with "
                            f"attention_base={spec.attention_base!r}; inserted ones would sit on block outputs, "
                            "which one spec cannot describe beside them")
    for s in stages:
        current[s - 1] = kind
        for block in model.stages[s - 1]:
            block.se = _identity_gate(kind, block.branch_end(), spec, s - 1)
    attention = current[0] if len(set(current)) == 1 else tuple(current)
    model.spec = spec.replace(attention=attention, attention_position="output", attention_base="gated")
    return model


@torch.no_grad()
def _identity_gate(kind: str, branch_end: nn.Module, spec, stage: int) -> nn.Module:
    channels = branch_end.weight.shape[0]
    hidden = reduced_channels(channels, spec.at("attention_ratio", stage), spec.attention_divisor,
                              spec.attention_min_channels)
    gate = make_attention(kind, channels, hidden)
    last = {"se": lambda g: [g.fc2], "eca": lambda g: [g.conv], "cbam": lambda g: [g.channel[-1], g.spatial[0]]}
    for layer in last[kind](gate):
        nn.init.zeros_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    gate.to(branch_end.weight.device, branch_end.weight.dtype)
    compensation = 1.0 / GATE_AT_INIT[kind]
    branch_end.weight.mul_(compensation)
    if getattr(branch_end, "bias", None) is not None:
        branch_end.bias.mul_(compensation)
    return gate
