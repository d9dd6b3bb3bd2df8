"""DenseNet's spec (Huang et al. 2017): its own family, since each layer concatenates instead of adding."""
from __future__ import annotations

from dataclasses import dataclass

from .base import (ACTIVATIONS, SpecBase, SpecError, check_bools, check_choice, check_positive_int_tuples,
                   check_positive_ints, check_rates, check_size)

STEMS = ("conv7", "cifar")


@dataclass(frozen=True)
class DenseNetSpec(SpecBase):
    """Every field of a DenseNet. Defaults are DenseNet-121 (torchvision's and timm's `densenet121`)."""

    family = "densenet"
    tuple_fields = ("block_config",)

    growth_rate: int = 32  # k: the channels each dense layer adds (Sec. 3, "Growth rate")
    block_config: tuple[int, ...] = (6, 12, 24, 16)  # dense layers per block; a transition follows all but the last
    bn_size: int = 4  # DenseNet-B: a 1x1 conv to bn_size * k channels before each 3x3 (Sec. 3, "Bottleneck layers")
    compression: float = 0.5  # DenseNet-C: theta, a transition keeps floor(theta * m) of m channels (Sec. 3)
    stem: str = "conv7"  # conv7: 7x7/2 conv, BN, ReLU, 3x3/2 max pool (ImageNet); cifar: one bare 3x3/1 conv
    stem_channels: int = 64  # num_init_features: 2k in DenseNet-BC
    layer_drop_rate: float = 0.0  # dropout on each dense layer's new channels (Sec. 4.2, runs without augmentation)
    # recompute each layer's concatenation and first BN-ReLU-conv in backward instead of storing them, so training
    # memory grows linearly, not quadratically, with block depth (Pleiss et al. 2017); same numbers, a bit slower
    memory_efficient: bool = False
    drop_rate: float = 0.0  # dropout before the classifier
    act: str = "relu"
    # head and input
    num_classes: int = 1000
    in_chans: int = 3
    input_size: int = 224  # default (square) input resolution

    def __post_init__(self) -> None:
        self._lists_to_tuples()
        validate_densenet(self)

    # --- derived quantities -------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.block_config)

    @property
    def stage_channels(self) -> tuple[int, ...]:
        """Output channels of each stage: the transition into it (all but the first), then its dense block."""
        channels, out = self.stem_channels, []
        for i, layers in enumerate(self.block_config):
            if i > 0:
                channels = transition_channels(channels, self.compression)
            channels += layers * self.growth_rate
            out.append(channels)
        return tuple(out)

    @property
    def num_features(self) -> int:
        return self.stage_channels[-1]

    @property
    def min_input_size(self) -> int:
        """The smallest input every transition's 2x2 pooling can still halve (to 1x1 after the last one)."""
        needed = 2 ** (self.num_stages - 1)  # side length entering the first dense block
        # the ImageNet stem leaves ceil(size / 4): 7x7/2 conv, then 3x3/2 max pool, both padded
        return 4 * needed - 3 if self.stem == "conv7" else needed


def transition_channels(channels: int, compression: float) -> int:
    return int(channels * compression)


def validate_densenet(spec: DenseNetSpec) -> None:
    """Raise SpecError naming the field(s) that make `spec` unbuildable."""
    check_choice("stem", spec.stem, STEMS)
    check_choice("act", spec.act, ACTIVATIONS)
    if not isinstance(spec.block_config, tuple) or not spec.block_config:
        raise SpecError("block_config is empty: a densenet needs at least one dense block")
    check_positive_int_tuples(spec, ("block_config",))
    check_positive_ints(spec, ("growth_rate", "bn_size", "stem_channels", "num_classes", "in_chans", "input_size"))
    check_bools(spec, ("memory_efficient",))
    if not 0.0 < spec.compression <= 1.0:
        raise SpecError(f"compression must be in (0, 1] (1 keeps every channel), got {spec.compression}")
    check_rates(spec, ("layer_drop_rate", "drop_rate"))
    if spec.input_size < spec.min_input_size:
        raise SpecError(f"input_size={spec.input_size} is too small: stem={spec.stem!r} with {spec.num_stages} "
                        f"dense blocks needs at least {spec.min_input_size}")
    channels = spec.stem_channels
    for i, layers in enumerate(spec.block_config[:-1]):
        channels += layers * spec.growth_rate
        if transition_channels(channels, spec.compression) < 1:
            raise SpecError(f"compression={spec.compression} leaves no channels after dense block {i + 1} "
                            f"({channels} channels in)")
        channels = transition_channels(channels, spec.compression)
    check_size(spec, sum(spec.block_config), lambda: approx_params(spec), ("block_config", "growth_rate"))


def approx_params(spec: DenseNetSpec) -> int:
    """Roughly the parameters of the stem, the dense layers, the transitions and the classifier: the size of a spec,
    known before anything is built."""
    k, wide, c = spec.growth_rate, spec.bn_size * spec.growth_rate, spec.stem_channels
    total = 49 * spec.in_chans * c
    for i, layers in enumerate(spec.block_config):
        if i > 0:
            total += c * transition_channels(c, spec.compression)
            c = transition_channels(c, spec.compression)
        # layer j sees c + j k channels: a 1x1 to bn_size k of them, then a 3x3 to k
        total += layers * ((c + (layers - 1) * k // 2) * wide + 9 * wide * k)
        c += layers * k
    return total + c * spec.num_classes
