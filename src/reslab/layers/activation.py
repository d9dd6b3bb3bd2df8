"""Activation by name, so that a spec can carry it as a string."""
from torch import nn

_ACTS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.01, inplace=True),  # PyTorch's default slope (TResNet's stem)
    "leaky_relu_1e-3": lambda: nn.LeakyReLU(1e-3, inplace=True),  # TResNet's blocks (Ridnik et al. 2021 code)
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": lambda: nn.GELU(),
}


def make_act(name: str) -> nn.Module:
    if name not in _ACTS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_ACTS)}")
    return _ACTS[name]()
