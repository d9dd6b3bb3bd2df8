"""The self-supervised methods' recipes as plain data: PretrainConfig field values, each with its source.

Views follow each paper's augmentation table: a random resized crop, a flip, colour jitter (strength s scales
brightness/contrast/saturation by 0.8 s and hue by 0.2 s, SimCLR App. A), grayscale, and per view a blur and a
solarisation probability (BYOL Table 6 makes the two views asymmetric). Blur is skipped below 64 px, as SimCLR did
on CIFAR-10 (App. B.9). The papers' LARS optimiser is replaced by SGD with momentum (what their CIFAR-10
reproductions use); the learning rate is per `lr_batch` images and scaled linearly with the batch. Under several
processes BatchNorm normalises with the whole batch's statistics (SimCLR's global BN, Sec. 2.2; the synchronised BN
of the others), except in MoCo, whose keys are encoded from images shuffled across processes (Sec. 3.3).
"""
from __future__ import annotations

from ..train.recipes import UnknownRecipeError, changed

SIMCLR = dict(
    source="Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations, Sec. 2-3, "
           "App. A, B.9 (CIFAR-10)",
    loss="nt_xent", temperature=0.5, proj_hidden=0, proj_dim=128, proj_layers=2, proj_bn=True, proj_last_bn=False,
    pred_hidden=0, momentum_base=0.0, momentum_cosine=False, queue_size=0, barlow_lambda=0.0,
    cross_process_bn="global", optimizer="sgd", momentum=0.9, lr=0.3, lr_batch=256, weight_decay=1e-6,
    no_decay_norm_bias=True, schedule="cosine", warmup_epochs=10, epochs=500, batch_size=512,
    crop_min_scale=0.08, color_jitter=0.5, jitter_p=0.8, gray_p=0.2, blur_p=(0.5, 0.5), solarize_p=(0.0, 0.0))

METHODS: dict[str, dict] = {
    "simclr": SIMCLR,
    "mocov2": changed(
        SIMCLR, source="Chen, Fan, Girshick & He 2020, Improved Baselines with Momentum Contrastive Learning "
                       "(MoCo v2), Sec. 2-3; He et al. 2020 (MoCo) Algorithm 1",
        loss="info_nce", temperature=0.2, proj_hidden=2048, proj_bn=False, momentum_base=0.999, queue_size=65536,
        cross_process_bn="shuffle", lr=0.03, weight_decay=1e-4, no_decay_norm_bias=False, warmup_epochs=0,
        epochs=200, batch_size=256, crop_min_scale=0.2, color_jitter=0.5),
    "byol": changed(
        SIMCLR, source="Grill et al. 2020, Bootstrap Your Own Latent, Sec. 3.3, App. B, Table 6 (asymmetric views)",
        loss="byol", proj_hidden=4096, proj_dim=256, pred_hidden=4096, momentum_base=0.996, momentum_cosine=True,
        lr=0.2, weight_decay=1.5e-6, epochs=1000, batch_size=4096, color_jitter=0.5, blur_p=(1.0, 0.1),
        solarize_p=(0.0, 0.2)),
    "simsiam": changed(
        SIMCLR, source="Chen & He 2021, Exploring Simple Siamese Representation Learning, Sec. 4, App. D (CIFAR-10)",
        loss="simsiam", proj_hidden=2048, proj_dim=2048, proj_layers=2, proj_last_bn=True, pred_hidden=512,
        lr=0.03, weight_decay=5e-4, no_decay_norm_bias=False, warmup_epochs=0, epochs=800, batch_size=512,
        crop_min_scale=0.2),
    "barlowtwins": changed(
        SIMCLR, source="Zbontar et al. 2021, Barlow Twins: Self-Supervised Learning via Redundancy Reduction, "
                       "Sec. 2-4, App. A",
        loss="barlow", proj_hidden=8192, proj_dim=8192, proj_layers=3, barlow_lambda=0.0051, lr=0.2,
        weight_decay=1.5e-6, epochs=1000, batch_size=2048, blur_p=(1.0, 0.1), solarize_p=(0.0, 0.2)),
}


def get_method(name: str) -> dict:
    if name not in METHODS:
        raise UnknownRecipeError(f"unknown pre-training method {name!r}; methods: {', '.join(METHODS)}")
    return dict(METHODS[name])
