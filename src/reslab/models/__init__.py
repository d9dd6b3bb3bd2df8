"""Model builders: one per family, each turning any valid spec of its family into an nn.Module. Each family's
builder registers itself by naming its spec class (models/protocol.py); the tables below are derived from them."""
from torch import nn

from ..spec import SpecError
from .convnext import ConvNeXt
from .crnn import CRNN
from .densenet import DenseNet
from .protocol import FAMILIES, FamilyModel
from .resnet import ResNet

# spec class -> the builder of that family (see models/protocol.py for what every builder provides)
BUILDERS: dict[type, type[FamilyModel]] = {builder.spec_type: builder for builder in FAMILIES.values()}


def builder_of(spec) -> type[FamilyModel]:
    """The builder of `spec`'s family."""
    builder = BUILDERS.get(type(spec))
    if builder is None:
        raise SpecError(f"no builder for {type(spec).__name__}; known specs: {[c.__name__ for c in BUILDERS]}")
    return builder


def build(spec) -> nn.Module:
    """Turn a spec into a freshly initialised network."""
    return builder_of(spec)(spec)


__all__ = ["build", "builder_of", "BUILDERS", "FAMILIES", "ConvNeXt", "CRNN", "DenseNet", "FamilyModel", "ResNet"]
