"""An inference forward allocates no more activation memory than timm's same model.

Counted op by op (every tensor an aten op returns that does not share storage with one of its inputs), so the
test is exact and independent of the allocator and the machine. A residual addition that makes a fresh tensor
per block instead of writing into the branch output shows here as one extra activation per block.
"""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from reslab import create_model
from oracles import build_oracle

pytest.importorskip("timm")


class FreshBytes(TorchDispatchMode):
    """Sums the bytes of every op output that is a new tensor rather than an input, a view or an in-place result."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in _tensors((args, kwargs))}
        self.bytes += sum(t.untyped_storage().nbytes() for t in _tensors(out)
                          if t.untyped_storage().data_ptr() not in inputs)
        return out


def _tensors(tree) -> list[torch.Tensor]:
    return [leaf for leaf in tree_leaves(tree) if isinstance(leaf, torch.Tensor)]


def fresh_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad(), FreshBytes() as counter:
        model(x)
    return counter.bytes


@pytest.mark.parametrize("name", ["resnet50", "resnet50d", "seresnet50", "resnest14d", "regnety_002", "tresnet_m"])
def test_inference_allocates_no_more_than_timm(name):
    x = torch.randn(1, 3, 64, 64)
    ours, theirs = fresh_bytes(create_model(name).eval(), x), fresh_bytes(build_oracle("timm", name), x)
    assert ours <= theirs, f"{name}: ours allocates {ours / 2**20:.2f} MiB in a forward, timm {theirs / 2**20:.2f} MiB"


def test_the_counter_sees_one_fresh_tensor_per_out_of_place_addition():
    x = torch.zeros(4, 256)  # 4 KiB
    assert fresh_bytes(lambda t: t + 1, x) == 4096
    assert fresh_bytes(lambda t: t.add_(1), x) == 0
