"""How a family describes its checkpoints: the foreign state-dict layouts they come in (timm, torchvision, Hugging
Face transformers: how to recognise their keys and rename them to and from ResLab's) and how its presets are told
apart by their keys. Each family states its own rules beside its builder (`FamilyModel.checkpoints`); weights/
detects a checkpoint's layout and applies them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

import torch


@dataclass(frozen=True)
class Layout:
    """A foreign state-dict layout: how to recognise its keys and rename them to and from ResLab's."""

    name: str  # "timm", "torchvision" or "transformers"
    detect: Callable[[list[str]], bool]
    to_reslab: Callable[[str], str]
    from_reslab: Callable[[str], str]
    applies_to: Callable[[object], bool] = lambda spec: True  # can this layout express the spec?
    head_is_conv: bool = False  # classifier stored as a 1x1 convolution (out, in, 1, 1)
    # what of the spec the layout's network cannot express (empty when applies_to accepts it), for the error
    misfits: Callable[[object], list[str]] | None = None
    # tensors the layout stores in another shape than ResLab (same values, e.g. a 1x1 conv as a Linear's matrix):
    # (ResLab key, tensor) -> ResLab's tensor, and (spec, ResLab key, tensor) -> the layout's tensor
    tensor_to_reslab: Callable[[str, torch.Tensor], torch.Tensor] | None = None
    tensor_from_reslab: Callable[[object, str, torch.Tensor], torch.Tensor] | None = None


@dataclass(frozen=True)
class CheckpointRules:
    """What a family knows of its checkpoints. `layouts`: its foreign layouts in the order they are tried (the first
    whose `detect` matches a checkpoint's keys is its layout, so specific ones come before catch-alls).
    `block_key`: a regex matching the key prefix of a block, its groups the stage and the block within it, so the
    keys show the blocks per stage, which the spec holds in `depths_field`. `could_fit(spec, state)`: further
    conditions, read off the spec without building it, for a state dict (ResLab's keys) to be that spec's weights."""

    layouts: tuple[Layout, ...] = ()
    block_key: str | None = None
    depths_field: str = "depths"
    could_fit: Callable[[object, Mapping[str, torch.Tensor]], bool] = lambda spec, state: True


def same_keys(key: str) -> str:
    """A layout whose keys are ResLab's own."""
    return key


def rename(rules: list[tuple[str, str]]) -> Callable[[str], str]:
    """A key renamer from (regex, replacement) rules applied in order."""
    compiled = [(re.compile(p), r) for p, r in rules]

    def run(key: str) -> str:
        for pattern, repl in compiled:
            key = pattern.sub(repl, key)
        return key

    return run


def chain(*fns: Callable[[str], str]) -> Callable[[str], str]:
    def run(key: str) -> str:
        for fn in fns:
            key = fn(key)
        return key

    return run


def renumber(src: str, dst: str, indices: Callable[..., tuple[int, ...]]) -> Callable[[str], str]:
    r"""Rename the key part `src` matches, all of whose groups are indices: `dst` is formatted with
    `indices(*groups)`; e.g. 'stages.0.blocks.1.' -> 'layer1.1.' is
    renumber(r"^stages\.(\d+)\.blocks\.(\d+)\.", "layer{}.{}.", lambda stage, block: (stage + 1, block))."""
    pattern = re.compile(src)
    return lambda key: pattern.sub(lambda m: dst.format(*indices(*map(int, m.groups()))), key)
