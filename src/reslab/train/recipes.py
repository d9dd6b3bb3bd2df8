"""The training recipes as plain data: TrainConfig field values, each recipe with its source in one line.

A recipe that refines another is written as that one plus what its paper changed (`changed`), so `reslab recipes`
and this file show the same thing the papers do: Bag of Tricks is the 2015 recipe with a cosine schedule, warm-up,
label smoothing, mixup and zero-init; A2 and A3 are A1 with a shorter schedule.

`lr` is the learning rate for `lr_batch` images; the engine scales it linearly with the global batch
(Goyal et al. 2017, Sec. 2.1).
"""
from __future__ import annotations

import math

from ..errors import ReslabError


class UnknownRecipeError(ReslabError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def changed(base: dict, *, without: tuple[str, ...] = (), **changes) -> dict:
    """`base` without the fields in `without`, with `changes` applied."""
    return {**{k: v for k, v in base.items() if k not in without}, **changes}


RESNET2015 = dict(
    source="He et al. 2015, Deep Residual Learning for Image Recognition, Sec. 3.4 (ImageNet)",
    optimizer="sgd", momentum=0.9, nesterov=False, lr=0.1, lr_batch=256, weight_decay=1e-4,
    no_decay_norm_bias=False, schedule="step", milestones=(30, 60), gamma=0.1, warmup_epochs=0, epochs=90,
    batch_size=256, crop="rrc", hflip=True, color_jitter=0.4, loss="ce")
RSB_A1 = dict(
    source="Wightman et al. 2021, ResNet strikes back, Table 1 (A1)",
    optimizer="lamb", lr=5e-3, lr_batch=2048, weight_decay=0.01, no_decay_norm_bias=True, schedule="cosine",
    warmup_epochs=5, epochs=600, batch_size=2048, crop="rrc", hflip=True, auto_augment="randaugment",
    randaug_magnitude=7, mixup=0.1, cutmix=1.0, loss="bce", repeated_aug=3, drop_path_rate=0.05,
    img_size=224, test_size=224, test_crop_pct=0.95)
STEP = ("milestones", "gamma")  # meaningless under a cosine schedule

RECIPES: dict[str, dict] = {
    "resnet2015": RESNET2015,
    "tricks2018": changed(
        RESNET2015, without=STEP, source="He et al. 2018, Bag of Tricks for Image Classification with CNNs, Sec. 3-5",
        no_decay_norm_bias=True, schedule="cosine", warmup_epochs=5, epochs=120, label_smoothing=0.1, mixup=0.2,
        zero_init_last=True),
    "rsb_a1": RSB_A1,
    "rsb_a2": changed(RSB_A1, source="Wightman et al. 2021, ResNet strikes back, Table 1 (A2)", weight_decay=0.02,
                      epochs=300),
    "rsb_a3": changed(RSB_A1, source="Wightman et al. 2021, ResNet strikes back, Table 1 (A3)", lr=8e-3,
                      weight_decay=0.02, epochs=100, randaug_magnitude=6, repeated_aug=1, drop_path_rate=0.0,
                      img_size=160),
    "resnet_rs": changed(
        RESNET2015, without=STEP + ("color_jitter",),
        source="Bello et al. 2021, Revisiting ResNets: Improved Training and Scaling Strategies, Sec. 4, App. C",
        weight_decay=4e-5, no_decay_norm_bias=True, schedule="cosine", warmup_epochs=5, epochs=350,
        batch_size=4096, auto_augment="randaugment", randaug_magnitude=10, label_smoothing=0.1, ema_decay=0.9999,
        depth_scaled_regularisation=True),
    "cifar": changed(
        RESNET2015, without=("color_jitter",),
        source="He et al. 2015, Deep Residual Learning for Image Recognition, Sec. 4.2 (CIFAR-10)",
        lr_batch=128, steps=64000, milestones=(32000, 48000), batch_size=128, crop="pad"),
    "finetune": changed(
        RESNET2015, without=STEP + ("color_jitter",),
        source="Kornblith et al. 2019, Do Better ImageNet Models Transfer Better?, Sec. 3 (fine-tuning)",
        nesterov=True, lr=0.01, no_decay_norm_bias=True, schedule="cosine", warmup_epochs=1, epochs=20,
        batch_size=64, label_smoothing=0.1),
    "linear_probe": changed(
        RESNET2015, without=STEP + ("color_jitter",),
        source="Chen et al. 2020, SimCLR, Sec. 2.3 and App. B.6 (linear evaluation of frozen features)",
        linear_probe=True, nesterov=True, lr=0.1, weight_decay=0.0, schedule="cosine", epochs=90, batch_size=256),
    "fixmatch": changed(
        RESNET2015, without=STEP + ("color_jitter",),
        source="Sohn et al. 2020, FixMatch, Sec. 4 and App. B.1 (CIFAR-10; 2^20 steps)",
        nesterov=True, lr=0.03, lr_batch=64, weight_decay=5e-4, schedule="cosine", epochs=1024, batch_size=64,
        crop="pad", ema_decay=0.999, semi="fixmatch"),
}


def get_recipe(name: str) -> dict:
    if name not in RECIPES:
        raise UnknownRecipeError(f"unknown recipe {name!r}; recipes: {', '.join(RECIPES)}")
    return dict(RECIPES[name])


def length(recipe: dict) -> str:
    """'64000 steps' or '90 epochs': how long the recipe trains, in the unit its milestones are in."""
    return f"{recipe['steps']} steps" if recipe.get("steps") else f"{recipe['epochs']} epochs"


def rescale(recipe: dict, *, epochs: int | None = None, steps: int | None = None) -> dict:
    """The same schedule shape over `epochs` (or `steps`): step milestones keep their fraction of the run, in the
    new length's unit; warm-up keeps its fraction of an epoch-long run."""
    new = epochs if steps is None else steps
    if new is None or new < 1:
        raise ReslabError(f"{'steps' if steps is not None else 'epochs'} must be at least 1, got {new}")
    old = recipe.get("steps") or recipe["epochs"]
    factor = new / old
    out = {k: v for k, v in recipe.items() if k != "steps"}
    if steps is not None:
        out["steps"] = steps
    if epochs is not None:
        out["epochs"] = epochs
        if not recipe.get("steps"):
            out["warmup_epochs"] = recipe.get("warmup_epochs", 0) * factor
    if "milestones" in recipe:
        # half up, not to even: 5 epochs of 164's (82, 123) are (3, 4), not (2, 4), which would cut the lr at 40 %
        out["milestones"] = tuple(max(1, math.floor(m * factor + 0.5)) for m in recipe["milestones"])
    return out
