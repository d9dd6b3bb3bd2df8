"""What a forward pass costs, counted by torch's flop counter on the meta device: no memory and no compute, and the
same count on every machine (on CPU and GPU the counter misses the fused kernels of recurrent layers; on the meta
device they run as the matrix products they are)."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode


class _SkipInit(TorchFunctionMode):
    """Random initialisation is meaningless on the meta device, and its first call there imports torch's compiler
    (seconds): skipped, while the tensors (and so the shapes) are created as usual."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in ("normal_", "uniform_", "trunc_normal_"):
            return args[0] if args else kwargs.get("tensor")
        return func(*args, **kwargs)


def on_meta(make: Callable[[], nn.Module]) -> nn.Module:
    """The network `make()` builds, on the meta device and uninitialised: its shapes without its memory."""
    with torch.device("meta"), _SkipInit():
        return make()


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """`model` in eval mode for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def mac_counter() -> Iterator[Callable[[], int]]:
    """Counts the multiply-accumulates run in the block, as torch's flop counter sees them (2 FLOPs per MAC)."""
    with FlopCounterMode(display=False) as counter:
        yield lambda: counter.get_total_flops() // 2


@torch.no_grad()
def meta_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """MACs of `model` (on the meta device) in eval mode on one input of `shape`."""
    with evaluating(model), mac_counter() as macs:
        model(torch.empty(shape, device="meta"))
    return macs()
