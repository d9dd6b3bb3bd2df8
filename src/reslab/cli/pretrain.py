"""`reslab pretrain`: self-supervised pre-training of any model (every PretrainConfig field is a flag, spec fields
go as --FIELD VALUE, as in `reslab train`)."""
from __future__ import annotations

import os

HELP = {"method": "simclr, mocov2, byol, simsiam or barlowtwins (`reslab recipes` lists them with their source)",
        "data": "a folder of images (class folders optional), a dataset root with train/ (and val/ for the kNN "
                "monitor), or a CIFAR pickle directory; default: built-in digits",
        "resume": "continue the run in DIR", "val_subset": "validation images the kNN monitor classifies",
        "cross_process_bn": "under torchrun: global (BatchNorm over every process's batch), shuffle (MoCo's keys from "
                            "images shuffled across processes) or local; default: the method's"}
SKIP = {"source", "spec"}


def add_commands(sub) -> None:
    from ..selfsup.config import PretrainConfig
    from .train import add_config_flags

    p = sub.add_parser("pretrain", help="self-supervised pre-training (labels ignored); fine-tune or probe after",
                       description="Any method field can be overridden; model spec fields go as --FIELD VALUE.")
    add_config_flags(p, PretrainConfig, SKIP, HELP)
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
