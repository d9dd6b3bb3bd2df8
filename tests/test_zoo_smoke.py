"""Every registered preset, of every family, builds and trains: one forward and backward pass in train mode on a
batch of 2 gives a finite loss and a finite gradient for every parameter. New presets are picked up as they land.

Each preset trains with at most two blocks per stage: the first block of a stage (where width and resolution
change) and one repeated block hold every kind of layer the preset has, and its full depth is checked elsewhere
(parameter counts against the papers and the oracles, logits against timm and torchvision)."""
import math

import pytest
import torch

import reslab
from oracles import param_count

GIANT_PARAMS = 100e6
SMALL_INPUT = 32  # the smallest input a /32 network still reduces to a 1x1 map; giants train at it to save time


DEPTH_FIELDS = ("depths", "block_config")  # blocks (or dense layers) per stage, in each family's spec
MAX_BLOCKS = 2


def _shallow(spec):
    """The same network with at most MAX_BLOCKS blocks in each stage."""
    name = next(n for n in DEPTH_FIELDS if hasattr(spec, n))
    return spec.replace(**{name: tuple(min(d, MAX_BLOCKS) for d in getattr(spec, name))})


def _cases():
    cases = []
    for name in reslab.list_models():
        spec = _shallow(reslab.get_spec(name))
        giant = param_count(spec) > GIANT_PARAMS
        cases.append(pytest.param(name, giant, marks=[pytest.mark.slow] if giant else [], id=name))
    return cases


@pytest.mark.parametrize("name, giant", _cases())
def test_preset_trains_one_step_with_finite_gradients(name, giant):
    model = reslab.build(_shallow(reslab.get_spec(name))).train()
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
