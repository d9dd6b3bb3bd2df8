"""`reslab compare`: train models under one recipe, budget and seeds; write report.md and report.html."""
from __future__ import annotations


# what compare sets itself, per model and seed, or that a side-by-side comparison cannot vary
COMPARE_DECIDES = {"model", "spec", "data", "recipe", "epochs", "seed", "output", "resume", "source", "weights_rename",
                   "progress", "stop_after_steps"}


def add_commands(sub) -> None:
    from ..choices import COMPARE_MODELS
    from ..train.config import TrainConfig
    from .train import HELP, add_config_flags

    p = sub.add_parser("compare", help="train models side by side (same recipe, epochs, seeds) and write a report")
    p.add_argument("--models", default=",".join(COMPARE_MODELS),
                   help="comma-separated presets, each optionally with :field=value spec overrides; a value may "
                        "itself be comma-separated (a tuple or one value per stage), as a comma starts a new "
                        "model only before a preset name: resnet18:attention=se,se,none,none,resnet34")
    p.add_argument("--data", default=None, help="dataset root (ImageFolder or CIFAR pickles); default: digits")
    p.add_argument("--recipe", default="cifar")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--output", default="runs/compare",
                   help="report directory; the runs go under OUTPUT/runs, one folder per model and settings: "
                        "finished runs with the same settings are reused, stopped ones resumed")
    # every other training option of `reslab train` (--optimizer, --lr, --batch-size, --subset, --compile, ...),
    # the same for every run
    add_config_flags(p, TrainConfig, COMPARE_DECIDES, HELP)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    import dataclasses

    from ..compare import DEFAULT_MODELS, DEFAULT_NOTE, CompareConfig, compare
    from ..train.config import TrainConfig
    from ..variant import split_models

    passed_on = {f.name for f in dataclasses.fields(TrainConfig)} - COMPARE_DECIDES
    options = {k: v for k, v in vars(args).items() if k in passed_on}
    if args.data is None and "batch_size" not in options:
        # the digits' 1,437 training images: a batch of 64 gives enough steps per epoch; the lr keeps the paper's
        # 0.1 per 128 images (0.1 at batch 64 left resnet32_cifar at 26.6 +- 14.2% top-1 after 5 epochs)
        options |= {"batch_size": 64}
    models = tuple(split_models(args.models))
    default = models == DEFAULT_MODELS and args.data is None and args.epochs == 5 and args.recipe == "cifar"
    default = default and set(options) <= {"batch_size"}
    config = CompareConfig(models, args.data, args.recipe, args.epochs, args.seeds, args.output, options,
                           note=DEFAULT_NOTE if default else "")
    md, page = compare(config, log=lambda m: print(m, flush=True))
    print(f"report: {page}\n        {md}")
    return 0
