"""A command-line flag per field of a config dataclass (TrainConfig, PretrainConfig), each with its help: what it
does, the values it takes (the config module's CHOICES and RANGES) and its default (the dataclass's, or the
recipe's where recipes set it); and the --help epilog that lists the model spec fields given as --FIELD VALUE."""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import textwrap
import typing

# what an unset (None) setting means, shown as its default
UNSET = {"data": "the built-in digits", "subset": "all images", "val_subset": "all images",
         "resume": "a new run", "steps": "none: --epochs gives the length", "img_size": "the model's own",
         "test_size": "the model's own", "test_crop_pct": "the model's own", "drop_path_rate": "the model's own",
         "drop_rate": "the model's own", "zero_init_last": "the model's own", "weights": "random initialisation",
         "num_classes": "the dataset's", "layer_decay": "none (one lr for all layers)",
         "head_lr": "1 (the scheduled lr)", "labels_per_class": "all labels", "semi": "none",
         "unlabelled": "the training split without its labels",
         "semi_threshold": "the --semi method's (FixMatch: 0.95)", "semi_mu": "the --semi method's (FixMatch: 7)",
         "semi_lambda_u": "the --semi method's (FixMatch: 1)", "workers": "chosen from the CPU count",
         "stop_after_steps": "never",
         "compile": "on for an image run long enough to pay back compiling it (said at the start)",
         "channels_last": "as --compile"}


@dataclasses.dataclass(frozen=True)
class OptionFacts:
    """Where a config's --help finds each option's allowed values and its default."""
    choices: dict  # field -> its values
    ranges: dict  # field -> its interval, e.g. "[0, 1)"
    recipes: dict  # recipe (or method) name -> field values; a field any of them sets defaults to the recipe's
    default_recipe: str  # the one used when none is named, whose values --help shows
    recipe_word: str = "recipe"
    job: dict = dataclasses.field(default_factory=dict)  # what the run without --data and --recipe changes
    job_name: str = ""


class _SwitchPair(argparse.Action):
    """A boolean field named no_*: --no-decay-norm-bias sets it, --decay-norm-bias clears it (no --no-no-...)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, option_string == self.option_strings[0])


def add_config_flags(p, config_cls, skip, helps: dict, facts: OptionFacts) -> None:
    """A flag per field of the config dataclass (--FIELD-NAME), typed from its annotation; absent flags stay unset."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        kw = dict(dest=f.name, default=argparse.SUPPRESS, help=option_help(f, helps.get(f.name, ""), facts))
        if f.name in facts.choices:
            kw["metavar"] = "{" + ",".join(map(str, facts.choices[f.name])) + "}"
        if (kind is bool or kind == (bool | None)) and f.name.startswith("no_"):
            p.add_argument(flag, "--" + flag[len("--no-"):], action=_SwitchPair, **kw)
        elif kind is bool or kind == (bool | None):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif "tuple" in str(kind):
            item = next(t for t in (int, float, str) if t.__name__ in str(kind))
            p.add_argument(flag, type=lambda s, item=item: tuple(item(v) for v in s.split(",") if v), **kw)
        else:
            base = next((t for t in (int, float, str) if t is kind or kind == (t | None)), str)
            p.add_argument(flag, type=base, **kw)


def option_help(f: dataclasses.Field, text: str, facts: OptionFacts) -> str:
    """'what it does; at least 1; default: the recipe's (cifar: 128)', escaped for argparse."""
    from ..train.settings import describe

    parts = [text] if text else []
    if f.name in facts.ranges:
        parts.append(describe(facts.ranges[f.name]))
    if "default:" not in text:
        parts.append(f"default: {_default(f, facts)}")
    return "; ".join(parts).replace("%", "%%")


def _default(f: dataclasses.Field, facts: OptionFacts) -> str:
    from ..train.recipes import length

    own = f.default_factory() if f.default is dataclasses.MISSING else f.default
    if any(f.name in recipe for recipe in facts.recipes.values()):
        recipe = facts.recipes[facts.default_recipe]
        # a recipe gives its length in epochs or in steps
        value = length(recipe) if f.name in ("epochs", "steps") else shown(f.name, recipe.get(f.name, own))
        text = f"the {facts.recipe_word}'s ({facts.default_recipe}: {value})"
    else:
        text = shown(f.name, own)
    if f.name in facts.job and shown(f.name, facts.job[f.name]) != text:
        text += f"; {facts.job_name}: {shown(f.name, facts.job[f.name])}"
    return text


def shown(name: str, value) -> str:
    """A setting's value as --help shows it."""
    if value is None:
        return UNSET.get(name, "unset")
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def spec_fields_epilog(config_cls) -> str:
    """The model spec fields given as --FIELD VALUE, per family (those that are settings of `config_cls` are
    options above)."""
    from ..spec import SPEC_TYPES

    options = {f.name for f in dataclasses.fields(config_cls)}
    lines = wrap("model spec fields, given as --FIELD VALUE (tuples and per-stage values comma-separated, e.g. "
                 "--depths 1,1,1 --attention se,se,none; `reslab info MODEL` shows a model's values):")
    for family, cls in SPEC_TYPES.items():
        names = [f.name.replace("_", "-") for f in dataclasses.fields(cls) if f.name not in options]
        lines += wrap(f"{family}: {', '.join(names)}", "  ", "    ")
    return "\n".join(lines)


def wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    """Lines of `text` for a raw (unwrapped) --help description or epilog, as wide as argparse wraps the options;
    flag names are not broken at their hyphens."""
    width = shutil.get_terminal_size().columns - 2
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False)
