"""`reslab compare`: train models under one recipe, budget and seeds; write report.md and report.html."""
from __future__ import annotations


def add_commands(sub) -> None:
    from ..compare import DEFAULT_MODELS

    p = sub.add_parser("compare", help="train models side by side (same recipe, epochs, seeds) and write a report")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated presets, each optionally with :field=value spec overrides; a value may "
                        "itself be comma-separated (a tuple or one value per stage), as a comma starts a new "
                        "model only before a preset name: resnet18:attention=se,se,none,none,resnet34")
    p.add_argument("--data", default=None, help="dataset root (ImageFolder or CIFAR pickles); default: digits")
    p.add_argument("--recipe", default="cifar")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--subset", type=int, default=None, help="class-balanced subset of the training images")
    p.add_argument("--val-subset", type=int, default=None, help="class-balanced subset of the validation images")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--compile", action="store_true", help="torch.compile each model's training step")
    p.add_argument("--channels-last", action="store_true", help="train in the channels-last memory format")
    p.add_argument("--output", default="runs/compare",
                   help="report directory; the runs go under OUTPUT/runs, one folder per model and settings: "
                        "finished runs with the same settings are reused, stopped ones resumed")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from ..compare import DEFAULT_MODELS, DEFAULT_NOTE, CompareConfig, compare
    from ..variant import split_models

    options = {k: v for k, v in (("subset", args.subset), ("val_subset", args.val_subset),
                                 ("batch_size", args.batch_size)) if v is not None}
    options |= {k: True for k in ("compile", "channels_last") if getattr(args, k)}
    if args.data is None and args.batch_size is None:
        # the digits' 1,437 training images: a batch of 64 gives enough steps per epoch; the lr keeps the paper's
        # 0.1 per 128 images (0.1 at batch 64 left resnet32_cifar at 26.6 +- 14.2% top-1 after 5 epochs)
        options |= {"batch_size": 64}
    models = tuple(split_models(args.models))
    default = models == DEFAULT_MODELS and args.data is None and args.epochs == 5 and args.recipe == "cifar"
    config = CompareConfig(models, args.data, args.recipe, args.epochs, args.seeds, args.output, options,
                           note=DEFAULT_NOTE if default else "")
    md, page = compare(config, log=lambda m: print(m, flush=True))
    print(f"report: {page}\n        {md}")
    return 0
