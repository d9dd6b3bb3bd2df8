"""`reslab train` (every TrainConfig field is a flag, spec fields go as --FIELD VALUE) and `reslab recipes`."""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from ..util.table import format_table

# what each flag does (its values and default are added from the config module and the recipes)
HELP = {"model": "the preset to train (`reslab models` lists them)",
        "data": "dataset root (ImageFolder train/ val/, or a CIFAR pickle directory)",
        "recipe": "the training recipe whose values are the defaults marked \"the recipe's\" (`reslab recipes NAME` "
                  "prints one); default: cifar (fixmatch with --semi)",
        "subset": "train on a class-balanced subset of N images",
        "val_subset": "validate on a class-balanced subset of N validation images, or all of them (all); default: "
                      "all, but with --subset a class-balanced share in proportion to it (at least 1,000 images, "
                      "or the whole split), said at the start",
        "output": "the run's folder", "resume": "continue the run in DIR",
        "steps": "the run's length in optimiser steps (the 2015 paper's 'iterations'), instead of --epochs; "
                 "--milestones then count steps (the cifar recipe: 64000, lr / 10 at 32000 and 48000)",
        "epochs": "the run's length in epochs (on a --steps recipe such as cifar, the milestones keep their "
                  "fraction of the run)",
        "batch_size": "images per optimiser step, all processes together",
        "lr": "learning rate for --lr-batch images, scaled linearly with --batch-size",
        "lr_batch": "the batch size --lr is given for", "optimizer": "the optimiser",
        "momentum": "SGD's momentum", "nesterov": "SGD with Nesterov momentum", "weight_decay": "L2 weight decay",
        "no_decay_norm_bias": "no weight decay on biases and norm weights (Bag of Tricks, Sec. 3.1)",
        "schedule": "learning-rate schedule after the warm-up: steps at --milestones, or a cosine to --min-lr",
        "milestones": "comma-separated epochs (steps with --steps) at which a step schedule multiplies the lr by "
                      "--gamma",
        "gamma": "the step schedule's lr factor at each milestone",
        "warmup_epochs": "epochs of linear lr warm-up from 0 (fractions allowed)",
        "min_lr": "the cosine schedule's final lr", "clip_grad": "largest global gradient norm (0: no clipping)",
        "accum_steps": "split each batch into N parts, one optimiser step per batch (less memory, same gradient)",
        "loss": "cross-entropy, or per-class binary cross-entropy (ResNet strikes back)",
        "label_smoothing": "share of the target spread over all classes",
        "mixup": "mixup's Beta(a, a) parameter (0: off)", "cutmix": "CutMix's Beta(a, a) parameter (0: off)",
        "crop": "training crop: random-resized (ImageNet), 4-pixel pad and random crop (CIFAR), or none",
        "hflip": "random horizontal flips", "color_jitter": "colour jitter strength (0: off)",
        "auto_augment": "an automatic augmentation policy", "randaug_magnitude": "RandAugment's magnitude",
        "random_erasing": "probability of erasing a random rectangle of each image",
        "repeated_aug": "each image this many times per epoch, differently augmented (repeated augmentation)",
        "img_size": "training resolution in pixels", "test_size": "validation resolution in pixels",
        "test_crop_pct": "validation centre crop: the resized image's share kept",
        "noise_p": "audio: share of clips given white noise",
        "snr_db": "audio: the noise's SNR in dB, one value or a range low,high to draw from",
        "freq_masks": "audio: SpecAugment frequency masks per clip (0: off)",
        "freq_mask_bands": "audio: mel bands a frequency mask zeroes, at most",
        "time_masks": "audio: SpecAugment time masks per clip (0: off)",
        "time_mask_frames": "audio: frames a time mask zeroes, at most",
        "drop_path_rate": "stochastic depth: the last block's drop probability (the model spec's field)",
        "drop_rate": "dropout before the classifier (the model spec's field)",
        "zero_init_last": "each residual branch's last BatchNorm starts at zero (the model spec's field)",
        "depth_scaled_regularisation": "ResNet-RS: dropout 0.25, and stochastic depth from ResNet-200 up",
        "ema_decay": "keep an exponential moving average of the weights with this decay, evaluated too (0: off)",
        "weights": "start from these weights: a run folder, a checkpoint file (timm, torchvision or ResLab), or "
                   "published weights by NAME.TAG (e.g. resnet20_cifar.reslab_cifar10; `reslab weights list`); a "
                   "different --num-classes re-initialises the head",
        "num_classes": "classes of the classifier",
        "freeze": "comma-separated parts to freeze: stem,stage1,...,head (default: none)",
        "freeze_bn": "fix every BatchNorm's statistics and affine (small-batch fine-tuning)",
        "layer_decay": "each layer's lr is this times the next deeper one's",
        "head_lr": "the classifier's lr as a multiple of the scheduled lr",
        "labels_per_class": "train on N labelled images per class (class-balanced, drawn with --seed)",
        "linear_probe": "train the classifier only, the backbone frozen (the linear_probe recipe sets it)",
        "semi": "semi-supervised training on the labels and an unlabelled pool",
        "unlabelled": "the unlabelled pool for --semi",
        "semi_threshold": "--semi: the confidence a pseudo-label needs",
        "semi_mu": "--semi: unlabelled images per labelled one in a batch",
        "semi_lambda_u": "--semi: the weight of the unlabelled loss",
        "device": "auto (a GPU when there is one), cpu, mps, cuda or cuda:N",
        "amp": "mixed precision (autocast) in bfloat16 or float16", "channels_last": "channels-last memory format",
        "compile": "torch.compile the model",
        "sync_bn": "under torchrun: BatchNorm normalises with the statistics of every process's batch (CPU too)",
        "seed": "random seed (initial weights, data order, augmentation)",
        "deterministic": "deterministic algorithms only (slower; the same run gives the same numbers)",
        "workers": "data-loading processes",
        "cache": "auto: small image folders decoded once into memory (cached on disk) and augmented a batch at "
                 "a time; off: every image decoded from its file each epoch",
        "stop_after_steps": "save a resumable checkpoint after N steps and stop",
        "overwrite": "start a new run in an --output folder that already holds one (or other files): the run's files "
                     "are replaced from its first checkpoint on, other files are kept",
        "tensorboard": "TensorBoard event files in the run's folder", "progress": "a progress bar per epoch"}
SKIP = {"source", "spec", "weights_rename", "val_subset"}  # weights_rename: --rename below; val_subset: takes all


def train_facts():
    """Where `reslab train`'s (and compare's) options find their values and defaults."""
    from ..train.config import CHOICES, DEFAULT_JOB, RANGES, SEMI
    from ..train.recipes import RECIPES
    from .config_flags import OptionFacts

    return OptionFacts({**CHOICES, "semi": SEMI}, RANGES, RECIPES, "cifar", job=DEFAULT_JOB,
                       job_name="without --data and --recipe")


def validation_images(text: str) -> int:
    """--val-subset N, or all: the whole split (0 in the settings)."""
    if text == "all":
        return 0
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of images, at least 1, or all for the whole split")
    return n


def add_commands(sub) -> None:
    from ..train.config import TrainConfig
    from .config_flags import add_config_flags, spec_fields_epilog, wrap

    p = sub.add_parser("train", help="train a model (no arguments: the default job on the built-in digits)",
                       description="\n".join(wrap("Train a model. Every recipe field is an option; model spec "
                                                   "fields go as --FIELD VALUE (listed below the options).")),
                       epilog=spec_fields_epilog(TrainConfig), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(p, TrainConfig, SKIP, HELP, train_facts())
    p.add_argument("--val-subset", type=validation_images, default=argparse.SUPPRESS, metavar="{N,all}",
                   help=HELP["val_subset"])
    p.add_argument("--pretrained", action="store_true", default=argparse.SUPPRESS,
                   help="start from --model's published default weights (--model NAME.TAG for another set; "
                        "`reslab weights list`), as --weights NAME.TAG does; default: off")
    p.add_argument("--rename", action="append", default=argparse.SUPPRESS, metavar="PATTERN=REPLACEMENT",
                   help="rename the --weights checkpoint's keys (regular expression, re.sub), e.g. '^linear\\.=fc.'; "
                        "repeatable; default: none")
    p.set_defaults(func=cmd_train, accepts_overrides=True)

    p = sub.add_parser("recipes", help="list the training and pre-training recipes, or print one in full")
    p.add_argument("name", nargs="?", help="a recipe or pre-training method to print in full")
    p.set_defaults(func=cmd_recipes)


def config_from_args(args):
    """The TrainConfig the options describe (for --resume, the given settings as a dict); published weights
    (--pretrained, --weights NAME.TAG) are fetched into their cache once every setting has been checked."""
    from ..registry import get_preset
    from ..train.config import default_job, from_recipe
    from ..variant import parse_overrides

    given = {f: getattr(args, f) for f in vars(args)
             if f not in ("command", "func", "accepts_overrides", "overrides")}
    published = _published_weights(given, given.pop("pretrained", False))
    if "rename" in given:
        given["weights_rename"] = _weights_rename(given.pop("rename"), given)
    if args.overrides:
        model = given.get("model", "resnet20_cifar")
        given["spec"] = parse_overrides(args.overrides, get_preset(model).spec)
    if "resume" in given:  # only what was given: train() applies --epochs and refuses other changes
        return given
    if "recipe" not in given and "data" not in given:
        config = default_job(**given)
    else:
        config = from_recipe(given.pop("recipe", "fixmatch" if given.get("semi") else "cifar"), **given)
    if config.weights is None:
        return config
    if published is None:
        _say(f"starting from the weights in {config.weights}")
        return config
    from ..weights.download import weights_file

    path = weights_file(published)
    _say(f"starting from {published.tag} ({published.source} weights, {path})")
    return dataclasses.replace(config, weights=str(path))


def _published_weights(given: dict, pretrained: bool):
    """The published weight set --pretrained (--model's default, or --model NAME.TAG) or --weights NAME.TAG
    names, with given["model"] set to its preset; None when the weights are a file or folder, or not given."""
    from ..errors import ReslabError
    from ..train.config import TrainConfig
    from ..weights.catalogue import get_weights, split_name

    model = given.get("model")
    if pretrained:
        if "weights" in given:
            raise ReslabError("--pretrained and --weights both name the weights to start from: give one")
        weights = get_weights(model or TrainConfig.model)
    elif "weights" not in given or Path(given["weights"]).exists() or "resume" in given:
        return None
    else:
        weights = _weight_tag(given["weights"])
        if weights is None:
            return None
        if model is not None and split_name(model)[0] != weights.preset:
            raise ReslabError(f"--weights {given['weights']} are {weights.preset}'s, but --model is {model}: "
                              f"drop --model, or give --model {weights.preset}")
    given["model"], given["weights"] = weights.preset, weights.tag
    return weights


def _weight_tag(name: str):
    """The published weight set NAME.TAG names, or None if `name` does not start with a preset's name (a path)."""
    from ..errors import ReslabError
    from ..registry import list_models
    from ..weights import WeightsError
    from ..weights.catalogue import get_weights, split_name

    preset, tag = split_name(name)
    if tag is None or preset not in list_models():
        return None
    try:
        return get_weights(name)
    except WeightsError as e:
        raise ReslabError(f"--weights {name}: no such file or folder, and not published weights: {e}") from None


def _say(message: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 alone reports
        print(message)


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
