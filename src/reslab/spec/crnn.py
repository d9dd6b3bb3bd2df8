"""The ResNet-CRNN's spec: residual blocks with channel gates over a log-mel spectrogram (frequency x time), then
a recurrent layer over time. Its own family: the recurrent head and the two-axis strides are no ResNet fields."""
from __future__ import annotations

from dataclasses import dataclass

from .base import (ACTIVATIONS, SpecBase, SpecError, check_bools, check_choice, check_positive_int_tuples,
                   check_positive_ints, check_rates, check_size)

ATTENTIONS = ("none", "se", "eca", "cbam")  # the image models' gates (layers/attention.py)
RECURRENT = ("lstm", "gru")
PER_STAGE = ("stage_channels", "depths", "freq_strides", "time_strides")


@dataclass(frozen=True)
class CRNNSpec(SpecBase):
    """Every field of a ResNet-CRNN. Defaults are `resnet_crnn`, sized for FSDD's 32-band, 62.5-frame/s features."""

    family = "crnn"
    tuple_fields = PER_STAGE

    stem_channels: int = 16  # one 3x3 conv, BN, act at full resolution
    stage_channels: tuple[int, ...] = (16, 32, 64)
    depths: tuple[int, ...] = (1, 1, 1)  # residual blocks per stage
    # each stage's first block strides frequency and time separately: the mel axis shrinks most, its remaining
    # rows are stacked into each frame's vector for the recurrent layer, the time axis is only coarsened
    freq_strides: tuple[int, ...] = (2, 2, 2)
    time_strides: tuple[int, ...] = (1, 2, 1)
    attention: str = "cbam"  # the channel (and spatial) gate on each residual branch, as in the image ResNets
    attention_ratio: float = 0.25  # the gate MLP's hidden width, as a share of the channels
    rnn: str = "lstm"  # over the time axis, after averaging over frequency
    rnn_hidden: int = 64  # per direction
    rnn_layers: int = 1
    bidirectional: bool = True
    rnn_dropout: float = 0.0  # between recurrent layers (needs rnn_layers > 1)
    act: str = "relu"
    drop_path_rate: float = 0.0  # stochastic depth on the residual branches, growing linearly with depth
    zero_init_last: bool = False  # each block's last BN starts at zero: a block starts as the identity
    drop_rate: float = 0.0  # dropout before the classifier
    # head and input
    num_classes: int = 10
    in_chans: int = 1
    input_size: int = 32  # mel bands (the height, fixed by the recurrent layer's width); any number of frames

    def __post_init__(self) -> None:
        self._lists_to_tuples()
        validate_crnn(self)

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def num_features(self) -> int:
        return self.rnn_hidden * (2 if self.bidirectional else 1)

    @property
    def freq_reduction(self) -> int:
        out = 1
        for s in self.freq_strides:
            out *= s
        return out

    @property
    def freq_rows(self) -> int:
        """Mel rows left after the stages (a padded 3x3 conv of stride s leaves ceil(rows / s))."""
        rows = self.input_size
        for s in self.freq_strides:
            rows = -(-rows // s)
        return rows

    @property
    def rnn_input(self) -> int:
        """Width of each frame's vector: the last stage's channels times its mel rows."""
        return self.stage_channels[-1] * self.freq_rows


def validate_crnn(spec: CRNNSpec) -> None:
    """Raise SpecError naming the field(s) that make `spec` unbuildable."""
    check_choice("attention", spec.attention, ATTENTIONS)
    check_choice("rnn", spec.rnn, RECURRENT)
    check_choice("act", spec.act, ACTIVATIONS)
    check_positive_int_tuples(spec, PER_STAGE)
    lengths = {name: len(getattr(spec, name)) for name in PER_STAGE}
    if len(set(lengths.values())) != 1 or not spec.depths:
        raise SpecError(f"{', '.join(PER_STAGE)} need one value per stage (at least one stage), got lengths "
                        f"{lengths}")
    check_positive_ints(spec, ("stem_channels", "rnn_hidden", "rnn_layers", "num_classes", "in_chans",
                               "input_size"))
    check_bools(spec, ("bidirectional", "zero_init_last"))
    check_rates(spec, ("rnn_dropout", "drop_path_rate", "drop_rate"))
    if not 0 < spec.attention_ratio <= 1:
        raise SpecError(f"attention_ratio must be in (0, 1], got {spec.attention_ratio}")
    if spec.rnn_dropout and spec.rnn_layers == 1:
        raise SpecError("rnn_dropout acts between recurrent layers: it needs rnn_layers > 1")
    if spec.input_size < spec.freq_reduction:
        raise SpecError(f"input_size={spec.input_size} mel bands cannot be strided {spec.freq_reduction}x "
                        f"(freq_strides {list(spec.freq_strides)})")
    check_size(spec, sum(spec.depths) + spec.rnn_layers, lambda: approx_params(spec),
               ("depths", "stage_channels", "rnn_hidden"))


def approx_params(spec: CRNNSpec) -> int:
    """Roughly the parameters of the convolutions, the recurrent layers and the classifier: the size of a spec,
    known before anything is built."""
    c = spec.stem_channels
    total = 9 * spec.in_chans * c
    for depth, out in zip(spec.depths, spec.stage_channels):
        total += 9 * out * (c + out) + c * out + (depth - 1) * 18 * out * out
        c = out
    gates, directions = (4 if spec.rnn == "lstm" else 3), (2 if spec.bidirectional else 1)
    inputs = spec.rnn_input + (spec.rnn_layers - 1) * spec.num_features
    rnn = directions * gates * spec.rnn_hidden * (inputs + spec.rnn_layers * spec.rnn_hidden)
    return total + rnn + spec.num_features * spec.num_classes
