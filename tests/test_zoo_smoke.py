"""Every registered preset, of every family, builds and trains: one forward and backward pass in train mode on a
batch of 2 gives a finite loss and a finite gradient for every parameter. New presets are picked up as they land."""
import math

import pytest
import torch

import reslab
from oracles import param_count

GIANT_PARAMS = 100e6
GIANT_BLOCKS = 200
SMALL_INPUT = 32  # the smallest input a /32 network still reduces to a 1x1 map; giants train at it to save time


def _blocks(spec) -> int:
    """Residual or dense blocks in the network, from whichever per-stage count its family's spec has."""
    for name in ("depths", "block_config"):
        if hasattr(spec, name):
            return sum(getattr(spec, name))
    return 0


def _cases():
    cases = []
    for name in reslab.list_models():
        spec = reslab.get_spec(name)
        giant = param_count(spec) > GIANT_PARAMS or _blocks(spec) > GIANT_BLOCKS
        cases.append(pytest.param(name, giant, marks=[pytest.mark.slow] if giant else [], id=name))
    return cases


@pytest.mark.parametrize("name, giant", _cases())
def test_preset_trains_one_step_with_finite_gradients(name, giant):
    model = reslab.create_model(name).train()
    # CIFAR nets at their own size; the rest at 64 px, which keeps a 2x2 map at the end of a /32 network
    size = SMALL_INPUT if giant or model.spec.input_size == SMALL_INPUT else 64
    x = torch.randn(2, model.spec.in_chans, size, size)
    target = torch.tensor([0, 1]) % model.spec.num_classes
    loss = torch.nn.functional.cross_entropy(model(x), target)
    loss.backward()
    assert math.isfinite(loss.item()), f"{name}: loss {loss.item()}"
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"{name}: parameters without a gradient: {no_grad[:5]}"
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"{name}: non-finite gradients in {bad[:5]}"
