"""LayerNorm over the channels of an NCHW tensor: each pixel's channel vector normalised on its own (ConvNeXt)."""
import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """nn.LayerNorm applied to dim 1 of (N, C, H, W). The permute to (N, H, W, C) is free for a channels-last
    tensor (its memory already is N, H, W, C), so the normalisation reads contiguous channel vectors."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
