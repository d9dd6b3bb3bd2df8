"""Global response normalisation (Woo et al. 2023, ConvNeXt-V2, Sec. 3): each channel is rescaled by how strong
its response over the whole map is relative to the other channels, which counters feature collapse."""
import torch
from torch import nn


class GlobalResponseNorm(nn.Module):
    """x + gamma * (x * N(x)) + beta, N(x) = ||x_c||_2 over H, W divided by its mean over channels (Eq. 1-3)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))  # gamma and beta start at zero: GRN starts as identity
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        strength = x.norm(p=2, dim=(2, 3), keepdim=True)
        relative = strength / (strength.mean(dim=1, keepdim=True) + self.eps)
        return x + self.weight.view(1, -1, 1, 1) * (x * relative) + self.bias.view(1, -1, 1, 1)
