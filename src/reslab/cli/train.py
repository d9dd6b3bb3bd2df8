"""`reslab train` (every TrainConfig field is a flag, spec fields go as --FIELD VALUE) and `reslab recipes`."""
from __future__ import annotations

import argparse
import dataclasses
import os
import typing

from ..table import format_table

# flags whose meaning needs more than the field name
HELP = {"data": "dataset root (ImageFolder train/ val/, or a CIFAR pickle directory); default: built-in digits",
        "lr": "learning rate for --lr-batch images, scaled linearly with --batch-size",
        "subset": "train on a class-balanced subset of N images", "resume": "continue the run in DIR",
        "weights": "start from this checkpoint (a different --num-classes re-initialises the head)",
        "freeze": "comma-separated parts to freeze: stem,stage1,...,head", "head_lr": "head lr multiplier",
        "stop_after_steps": "save a resumable checkpoint after N steps and stop",
        "steps": "the run's length in optimiser steps (the 2015 paper's 'iterations'), instead of --epochs; "
                 "--milestones then count steps (the cifar recipe: 64000, lr / 10 at 32000 and 48000)",
        "epochs": "the run's length in epochs (on a --steps recipe such as cifar, the milestones keep their "
                  "fraction of the run)",
        "labels_per_class": "train on N labelled images per class (class-balanced, drawn with --seed)",
        "linear_probe": "train the classifier only, the backbone frozen (the linear_probe recipe sets it)",
        "semi": "semi-supervised: fixmatch or pseudo_label (default recipe: fixmatch)",
        "unlabelled": "the unlabelled pool for --semi (default: the training split without its labels)",
        "overwrite": "start a new run in an --output folder that already holds one (or other files): the run's files "
                     "are replaced from its first checkpoint on, other files are kept",
        "sync_bn": "under torchrun: BatchNorm normalises with the statistics of every process's batch (CPU too)"}
SKIP = {"source", "spec", "weights_rename"}  # weights_rename: --rename below


def add_commands(sub) -> None:
    from ..train.config import TrainConfig

    p = sub.add_parser("train", help="train a model (no arguments: the default job on the built-in digits)",
                       description="Any recipe field can be overridden; model spec fields go as --FIELD VALUE.")
    add_config_flags(p, TrainConfig, SKIP, HELP)
    p.add_argument("--rename", action="append", default=argparse.SUPPRESS, metavar="PATTERN=REPLACEMENT",
                   help="rename the --weights checkpoint's keys (regular expression, re.sub), e.g. '^linear\\.=fc.'; "
                        "repeatable")
    p.set_defaults(func=cmd_train, accepts_overrides=True)

    p = sub.add_parser("recipes", help="list the training and pre-training recipes, or print one in full")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_recipes)


def add_config_flags(p, config_cls, skip, helps) -> None:
    """A flag per field of the config dataclass (--FIELD-NAME), typed from its annotation; absent flags stay unset."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        kw = dict(dest=f.name, default=argparse.SUPPRESS, help=helps.get(f.name))
        if kind is bool or kind == (bool | None):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif "tuple" in str(kind):
            item = next(t for t in (int, float, str) if t.__name__ in str(kind))
            p.add_argument(flag, type=lambda s, item=item: tuple(item(v) for v in s.split(",") if v), **kw)
        else:
            base = next((t for t in (int, float, str) if t is kind or kind == (t | None)), str)
            p.add_argument(flag, type=base, **kw)


def config_from_args(args):
    from ..registry import get_preset
    from ..train.config import default_job, from_recipe
    from ..variant import parse_overrides

    given = {f: getattr(args, f) for f in vars(args)
             if f not in ("command", "func", "accepts_overrides", "overrides")}
    if "rename" in given:
        given["weights_rename"] = _weights_rename(given.pop("rename"), given)
    if args.overrides:
        model = given.get("model", "resnet20_cifar")
        given["spec"] = parse_overrides(args.overrides, get_preset(model).spec)
    if "resume" in given:  # only what was given: train() applies --epochs and refuses other changes
        return given
    if "recipe" not in given and "data" not in given:
        return default_job(**given)
    return from_recipe(given.pop("recipe", "fixmatch" if given.get("semi") else "cifar"), **given)


def _weights_rename(values: list[str], given: dict) -> dict:
    """--rename values as the {regex: replacement} map the library takes, for the --weights checkpoint."""
    from ..errors import ReslabError
    from .weights import parse_rename

    rename = parse_rename(values)
    if "weights" not in given:
        raise ReslabError("--rename renames the keys of the --weights checkpoint: give --weights CHECKPOINT with it")
    return rename


def cmd_train(args) -> int:
    from ..train import train

    result = train(config_from_args(args))
    if result.signum is not None:  # as a shell expects of a signalled program: `train && export` stops here
        return 128 + result.signum
    if result.stopped or result.finished_before or int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, rank 0 alone reports
    top1 = result.metrics.get("val_top1", float("nan"))
    print(f"validation accuracy: {top1:.2%} ({result.epochs_done} epochs, {result.wall_s:.0f} s); "
          f"run saved in {result.run_dir}")
    return 0


def cmd_recipes(args) -> int:
    from ..selfsup.methods import METHODS, get_method
    from ..train.recipes import RECIPES, get_recipe, length

    if args.name:
        recipe = get_method(args.name) if args.name in METHODS else get_recipe(args.name)
        print(f"{args.name}: {recipe.pop('source')}")
        for key, value in recipe.items():
            print(f"  {key:28s} {value}")
        return 0
    rows = [[name, length(r), r["optimizer"], r["schedule"], r["source"]] for name, r in RECIPES.items()]
    print(format_table(["recipe", "length", "optimizer", "schedule", "source"], rows))
    rows = [[name, m["epochs"], m["loss"], m["temperature"] if m["loss"] in ("nt_xent", "info_nce") else "-",
             m["queue_size"] or "-", m["cross_process_bn"], m["source"]] for name, m in METHODS.items()]
    print("\nself-supervised pre-training (reslab pretrain --method NAME):")
    print(format_table(["method", "epochs", "loss", "temperature", "queue", "BN across processes", "source"], rows))
    return 0
