"""Model builders: one per family, each turning any valid spec of its family into an nn.Module."""
from torch import nn

from ..spec import ResNetSpec, SpecError
from .resnet import ResNet

# spec class -> builder; each family module adds its own entry
BUILDERS: dict[type, type[nn.Module]] = {ResNetSpec: ResNet}

from . import densenet  # noqa: E402,F401  (registers the DenseNet spec and builder)


def build(spec) -> nn.Module:
    """Turn a spec into a freshly initialised network."""
    builder = BUILDERS.get(type(spec))
    if builder is None:
        raise SpecError(f"no builder for {type(spec).__name__}; known specs: {[c.__name__ for c in BUILDERS]}")
    return builder(spec)


__all__ = ["build", "BUILDERS", "ResNet"]
