"""The two augmented views of an image that the methods compare, built from torchvision.transforms.v2 pieces
(stacked by data.views.Views)."""
from __future__ import annotations

import torch
from torchvision.transforms import InterpolationMode, v2

BLUR_MIN_SIZE = 64  # SimCLR App. B.9: no blur on 32 px CIFAR-10 images


def view_transform(cfg, pre, size: int, view: int) -> v2.Compose:
    """View `view` (0 or 1) of the method's pair: its blur and solarisation probabilities are per view."""
    s = cfg.color_jitter
    steps = [v2.ToImage(),
             v2.RandomResizedCrop(size, scale=(cfg.crop_min_scale, 1.0),
                                  interpolation=InterpolationMode(pre.interpolation), antialias=True),
             v2.RandomHorizontalFlip(),
             v2.RandomApply([v2.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=cfg.jitter_p),
             v2.RandomGrayscale(p=cfg.gray_p)]
    if size >= BLUR_MIN_SIZE and cfg.blur_p[view] > 0:  # kernel 10% of the image (SimCLR App. A)
        steps.append(v2.RandomApply([v2.GaussianBlur(2 * (size // 20) + 1, sigma=(0.1, 2.0))], p=cfg.blur_p[view]))
    if cfg.solarize_p[view] > 0:
        steps.append(v2.RandomSolarize(threshold=128, p=cfg.solarize_p[view]))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(pre.mean, pre.std)]
    return v2.Compose(steps)
