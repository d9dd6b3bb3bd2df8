"""`reslab compare`: train models under one recipe, budget and seeds; write report.md and report.html."""
from __future__ import annotations

import argparse
import dataclasses
import sys


# what compare sets itself, per model and seed, or that a side-by-side comparison cannot vary
COMPARE_DECIDES = {"model", "spec", "data", "recipe", "epochs", "seed", "output", "resume", "source", "weights_rename",
                   "progress", "stop_after_steps"}
# on the built-in digits (no --data) unless given: their 1,437 training images in batches of 64 give enough steps per
# epoch; the lr keeps the paper's 0.1 per 128 images (0.1 at batch 64 left resnet32_cifar at 26.6 +- 14.2% top-1
# after 5 epochs)
DIGITS_OPTIONS = {"batch_size": 64}


def add_commands(sub) -> None:
    from ..choices import COMPARE_MODELS
    from ..train.config import CHOICES, TrainConfig
    from .config_flags import add_config_flags
    from .train import HELP, train_facts

    p = sub.add_parser("compare", help="train models side by side (same recipe, epochs, seeds) and write a report")
    p.add_argument("--models", default=",".join(COMPARE_MODELS),
                   help="comma-separated presets, each optionally with :field=value spec overrides; a value may "
                        "itself be comma-separated (a tuple or one value per stage), as a comma starts a new "
                        "model only before a preset name: resnet18:attention=se,se,none,none,resnet34; default: "
                        "%(default)s (the degradation problem of He et al. 2015)")
    p.add_argument("--data", default=None, help="dataset root (ImageFolder or CIFAR pickles); default: the built-in "
                                                "digits")
    p.add_argument("--recipe", default="cifar", metavar="{" + ",".join(CHOICES["recipe"]) + "}",
                   help="the training recipe of every run; default: %(default)s")
    p.add_argument("--epochs", type=int, default=5, help="epochs of every run; default: %(default)s")
    p.add_argument("--seeds", type=int, default=3, help="runs per model, seeds 0, 1, ...; default: %(default)s")
    p.add_argument("--output", default="runs/compare",
                   help="report directory; the runs go under OUTPUT/runs, one folder per model and settings: "
                        "finished runs with the same settings are reused, stopped ones resumed; default: %(default)s")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="each run's progress bar per epoch, beside the 'run k/N' line with the time left; "
                        "default: on when stderr is a terminal")
    # every other training option of `reslab train` (--optimizer, --lr, --batch-size, --subset, --compile, ...),
    # the same for every run
    facts = dataclasses.replace(train_facts(), job=DIGITS_OPTIONS, job_name="without --data")
    add_config_flags(p, TrainConfig, COMPARE_DECIDES, HELP, facts)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from ..experiments.compare import DEFAULT_MODELS, DEFAULT_NOTE, CompareConfig, compare
    from ..train.config import TrainConfig
    from ..variant import split_models

    passed_on = {f.name for f in dataclasses.fields(TrainConfig)} - COMPARE_DECIDES
    options = {k: v for k, v in vars(args).items() if k in passed_on}
    if args.data is None:
        options = {**DIGITS_OPTIONS, **options}
    models = tuple(split_models(args.models))
    default = models == DEFAULT_MODELS and args.data is None and args.epochs == 5 and args.recipe == "cifar"
    default = default and set(options) <= set(DIGITS_OPTIONS)
    config = CompareConfig(models, args.data, args.recipe, args.epochs, args.seeds, args.output, options,
                           note=DEFAULT_NOTE if default else "",
                           progress=sys.stderr.isatty() if args.progress is None else args.progress)
    md, page = compare(config, log=lambda m: print(m, flush=True))
    print(f"report: {page}\n        {md}")
    return 0
