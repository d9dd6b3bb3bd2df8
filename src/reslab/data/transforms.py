"""Train and eval transforms from a config, built from torchvision.transforms.v2 pieces."""
from __future__ import annotations

import torch
from torchvision.transforms import InterpolationMode, v2

from .errors import DataError

AUTO_AUGMENTS = ("none", "autoaugment", "randaugment", "trivialaugment")


def train_transform(cfg, pre, size: int) -> v2.Compose:
    """`cfg.crop`: "rrc" random-resized crop (ImageNet recipes), "pad" 4-pixel pad + random crop (He et al. 2015,
    Sec. 4.2, CIFAR), "none" resize only. Audio models: the clip's augmented log-mel features instead."""
    if getattr(pre, "audio", None) is not None:
        from .audio_augment import AudioAugment
        from .audio_transforms import train_clip_transform

        return train_clip_transform(pre.audio, AudioAugment.of(cfg))
    interp = InterpolationMode(pre.interpolation)
    steps = [v2.ToImage()]
    if cfg.crop == "rrc":
        steps.append(v2.RandomResizedCrop(size, interpolation=interp, antialias=True))
    elif cfg.crop == "pad":
        steps += [v2.Resize(size, antialias=True), v2.RandomCrop(size, padding=4)]
    elif cfg.crop == "none":
        steps.append(v2.Resize((size, size), interpolation=interp, antialias=True))
    else:
        raise DataError(f"crop={cfg.crop!r}: expected rrc, pad or none")
    if cfg.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if cfg.color_jitter > 0:
        j = cfg.color_jitter
        steps.append(v2.ColorJitter(brightness=j, contrast=j, saturation=j))
    steps += _auto_augment(cfg)
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(pre.mean, pre.std)]
    if cfg.random_erasing > 0:
        steps.append(v2.RandomErasing(p=cfg.random_erasing, value=0))
    return v2.Compose(steps)


def _auto_augment(cfg) -> list:
    if cfg.auto_augment == "none":
        return []
    if cfg.auto_augment == "autoaugment":
        return [v2.AutoAugment()]
    if cfg.auto_augment == "randaugment":
        return [v2.RandAugment(num_ops=2, magnitude=cfg.randaug_magnitude)]
    if cfg.auto_augment == "trivialaugment":
        return [v2.TrivialAugmentWide()]
    raise DataError(f"auto_augment={cfg.auto_augment!r}: expected one of {', '.join(AUTO_AUGMENTS)}")


def eval_transform(pre, size: int) -> v2.Compose:
    """Resize to size / crop_pct, centre-crop size: the model's own evaluation preprocessing (audio models: the
    clip's log-mel features)."""
    if getattr(pre, "audio", None) is not None:
        from .audio_transforms import eval_clip_transform

        return eval_clip_transform(pre.audio)
    resize = int(round(size / pre.crop_pct))
    return v2.Compose([v2.ToImage(), v2.Resize(resize, interpolation=InterpolationMode(pre.interpolation),
                                               antialias=True), v2.CenterCrop(size),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(pre.mean, pre.std)])
