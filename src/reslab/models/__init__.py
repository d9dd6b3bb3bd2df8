"""Model builders: one per family, each turning any valid spec of its family into an nn.Module."""
from torch import nn

from ..spec import ConvNeXtSpec, CRNNSpec, DenseNetSpec, ResNetSpec, SpecError
from .convnext import ConvNeXt
from .crnn import CRNN
from .densenet import DenseNet
from .resnet import ResNet

# spec class -> the builder of that family (see models/protocol.py for what every builder provides)
BUILDERS: dict[type, type[nn.Module]] = {ResNetSpec: ResNet, DenseNetSpec: DenseNet, ConvNeXtSpec: ConvNeXt}
BUILDERS[CRNNSpec] = CRNN


def build(spec) -> nn.Module:
    """Turn a spec into a freshly initialised network."""
    builder = BUILDERS.get(type(spec))
    if builder is None:
        raise SpecError(f"no builder for {type(spec).__name__}; known specs: {[c.__name__ for c in BUILDERS]}")
    return builder(spec)


__all__ = ["build", "BUILDERS", "ConvNeXt", "CRNN", "DenseNet", "ResNet"]
