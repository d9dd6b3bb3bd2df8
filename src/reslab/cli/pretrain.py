"""`reslab pretrain`: self-supervised pre-training of any model (every PretrainConfig field is a flag, spec fields
go as --FIELD VALUE, as in `reslab train`)."""
from __future__ import annotations

import os

# what each option that `reslab train` lacks, or that means something else here, does; the others say what train's do
OWN_HELP = {
    "method": "the self-supervised method, whose recipe gives the defaults marked \"the method's\" "
              "(`reslab recipes NAME` prints one)",
    "data": "a folder of images (class folders optional), a dataset root with train/ (and val/ for the kNN "
            "monitor), or a CIFAR pickle directory",
    "output": "the run's folder", "val_subset": "validation images the kNN monitor classifies",
    "loss": "the method's loss", "temperature": "the contrastive losses' softmax temperature",
    "proj_hidden": "the projection head's hidden width (0: the backbone's number of features)",
    "proj_dim": "the projection head's output width", "proj_layers": "the projection head's linear layers",
    "proj_bn": "BatchNorm after the projection head's hidden layers",
    "proj_last_bn": "BatchNorm after the projection head's last layer",
    "pred_hidden": "the predictor's hidden width (0: no predictor)",
    "momentum_base": "the momentum encoder's EMA decay (0: no momentum encoder)",
    "momentum_cosine": "raise the momentum encoder's decay to 1 along a cosine (BYOL)",
    "queue_size": "negatives kept in MoCo's queue (0: no queue)",
    "barlow_lambda": "Barlow Twins' weight of the off-diagonal terms",
    "cross_process_bn": "under torchrun: global (BatchNorm over every process's batch), shuffle (MoCo's keys from "
                        "images shuffled across processes) or local",
    "crop_min_scale": "the random-resized crop's smallest share of the image",
    "color_jitter": "the views' colour jitter strength", "jitter_p": "probability of colour jitter per view",
    "gray_p": "probability of a grey view", "blur_p": "probability of a Gaussian blur, per view (two values)",
    "solarize_p": "probability of solarisation, per view (two values)",
    "epochs": "the run's length in epochs",
    "milestones": "comma-separated epochs at which a step schedule multiplies the lr by --gamma",
    "knn_k": "the kNN monitor's neighbours", "knn_t": "the kNN monitor's temperature",
    "progress": "a progress bar per epoch"}
SKIP = {"source", "spec"}


def add_commands(sub) -> None:
    import argparse

    from ..selfsup.config import CHOICES, RANGES, PretrainConfig
    from ..selfsup.methods import METHODS
    from .config_flags import OptionFacts, add_config_flags, spec_fields_epilog, wrap
    from .train import HELP

    p = sub.add_parser("pretrain", help="self-supervised pre-training (labels ignored); fine-tune or probe after",
                       description="\n".join(wrap("Pre-train a model without labels. Every method field is an "
                                                   "option; model spec fields go as --FIELD VALUE (listed below "
                                                   "the options).")),
                       epilog=spec_fields_epilog(PretrainConfig), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(p, PretrainConfig, SKIP, {**HELP, **OWN_HELP},
                     OptionFacts(CHOICES, RANGES, METHODS, "simclr", recipe_word="method"))
    p.set_defaults(func=cmd_pretrain, accepts_overrides=True)


def cmd_pretrain(args) -> int:
    from ..registry import get_preset
    from ..selfsup.loop import pretrain
    from ..variant import parse_overrides

    given = {f: getattr(args, f) for f in vars(args) if f not in ("command", "func", "accepts_overrides", "overrides")}
    if args.overrides:
        given["spec"] = parse_overrides(args.overrides, get_preset(given.get("model", "resnet20_cifar")).spec)
    result = pretrain(**given)
    if result.signum is not None:
        return 128 + result.signum
    if result.stopped or result.finished_before or int(os.environ.get("RANK", "0")) != 0:
        return 0
    knn = result.metrics.get("knn_top1")
    print(f"pre-trained {result.epochs_done} epochs ({result.wall_s:.0f} s)"
          + (f", kNN top-1 {knn:.2%}" if knn is not None else "")
          + f"; backbone weights in {result.run_dir}: fine-tune with reslab train --weights {result.run_dir} "
            f"--data DIR (add --recipe linear_probe for a linear probe)")
    return 0
