"""ResNet-CRNN for speech: the builder of its spec (spec/crnn.py).

A 3x3 stem, stages of residual blocks whose branch ends in the image ResNets' channel gate (CBAM: average- and
max-pooled channel attention, then a spatial gate; layers/attention.py, the same module), each frame's remaining
mel rows stacked into one vector (averaging them instead would throw away where in frequency the energy sits,
which is what tells vowels apart), a bidirectional LSTM (or GRU) over the frames, the mean of its outputs over
time, and a linear classifier. Convolutions and the recurrent layer take any number of frames, so one network
reads clips of any length (ONNX export keeps the time axis dynamic); the mel bands are fixed (spec.input_size).
Its cost (`reslab models`, `reslab info`) is counted on one second of audio."""
from __future__ import annotations

import torch
from torch import nn

from ..layers import DropPath, make_act, make_attention, reduced_channels
from ..spec.audio import AudioFeatures
from ..spec.crnn import CRNNSpec
from ..spec.preprocessing import Preprocessing, audio_preprocessing
from .layout_rules import CheckpointRules
from .protocol import FamilyModel

# the frames of one second of audio in the default log-mel features (those of the resnet_crnn preset): 63
ONE_SECOND = AudioFeatures().frames(AudioFeatures().sample_rate)


class GatedResidualBlock(nn.Module):
    """conv3x3-BN-act-conv3x3-BN, the channel gate, plus the shortcut (1x1 conv-BN when the shape changes), act."""

    def __init__(self, spec: CRNNSpec, in_channels: int, out_channels: int, stride: tuple[int, int],
                 drop_path: float):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = make_act(spec.act)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        hidden = reduced_channels(out_channels, spec.attention_ratio, 1)
        self.gate = make_attention(spec.attention, out_channels, hidden)
        self.drop_path = DropPath(drop_path)
        self.downsample = nn.Identity() if stride == (1, 1) and in_channels == out_channels else nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))
        self.act2 = make_act(spec.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(self.drop_path(self.gate(out)) + self.downsample(x))


class CRNN(FamilyModel):
    """Stem -> gated residual stages (`forward_features`: (N, C, mel, frames)) -> (N, frames, C x mel) -> RNN over
    frames -> mean over frames -> dropout -> fc (`forward_head`)."""

    spec_type = CRNNSpec
    checkpoints = CheckpointRules(block_key=r"^layer(\d+)\.(\d+)\.")  # ResLab's own layout only
    time_axis = 3  # input (N, 1, mel bands, frames): the frames may be any number
    cost_frames = ONE_SECOND

    @classmethod
    def default_preprocessing(cls, spec: CRNNSpec) -> Preprocessing:
        """Log-mel features of the default front end, as many bands as the spec reads."""
        return audio_preprocessing(AudioFeatures(n_mels=spec.input_size))

    def __init__(self, spec: CRNNSpec):
        super().__init__(spec)
        self.conv1 = nn.Conv2d(spec.in_chans, spec.stem_channels, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(spec.stem_channels)
        self.act1 = make_act(spec.act)
        self.add_feature("stem", spec.stem_channels, 1)
        blocks_total = sum(spec.depths)  # stochastic depth grows linearly from 0 to drop_path_rate
        rates = iter(spec.drop_path_rate * i / max(blocks_total - 1, 1) for i in range(blocks_total))
        channels, reduction = spec.stem_channels, 1
        for i, (width, depth) in enumerate(zip(spec.stage_channels, spec.depths)):
            stride = (spec.freq_strides[i], spec.time_strides[i])
            blocks = [GatedResidualBlock(spec, channels if b == 0 else width, width, stride if b == 0 else (1, 1),
                                         next(rates)) for b in range(depth)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            channels, reduction = width, reduction * spec.freq_strides[i]
            self.add_feature(f"stage{i + 1}", width, reduction)  # reduction along the mel axis
        recurrent = nn.LSTM if spec.rnn == "lstm" else nn.GRU
        self.rnn = recurrent(spec.rnn_input, spec.rnn_hidden, spec.rnn_layers, batch_first=True,
                             dropout=spec.rnn_dropout, bidirectional=spec.bidirectional)
        self.num_features = spec.num_features
        self.drop = nn.Dropout(spec.drop_rate)
        self.fc = nn.Linear(self.num_features, spec.num_classes)
        self.reset_parameters()

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.spec.num_stages)]

    def reset_parameters(self) -> None:
        """He initialisation of the convolutions (BN starts at 1 and 0, torch's default); zero_init_last zeroes
        each block's last BN scale."""
        for conv in (m for m in self.modules() if isinstance(m, nn.Conv2d)):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        for block in (b for stage in self.stages for b in stage if self.spec.zero_init_last):
            nn.init.zeros_(block.bn2.weight)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.act1(self.bn1(self.conv1(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        frames, _ = self.rnn(x.flatten(1, 2).transpose(1, 2))  # (N, frames, C x mel) -> (N, frames, features)
        x = self.drop(frames.mean(1))
        return x if pre_logits else self.fc(x)
