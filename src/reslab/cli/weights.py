"""`reslab weights list|download|info`: the published weights by name; and the options every command that loads
a model shares (--checkpoint, or --model NAME[.TAG] --pretrained, and --rename)."""
from __future__ import annotations

import re

from ..errors import ReslabError
from ..util.table import format_table

TAG_HELP = "'resnet50.a1_in1k', or a preset for its default weights"


def add_commands(sub) -> None:
    p = sub.add_parser("weights", help="published weights by name: list, download, info")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True

    q = actions.add_parser("list", help="tags, source, size, published top-1, cached here or not")
    q.add_argument("pattern", nargs="?", default="*", help="shell-style filter on tags or presets, e.g. 'resnet50*'")
    q.set_defaults(func=cmd_list)

    q = actions.add_parser("download", help="put weights in their cache (for a machine without network: copy it)")
    q.add_argument("tags", nargs="+", metavar="TAG", help=TAG_HELP)
    q.add_argument("--no-progress", action="store_true", help="no progress bar (default: one on a terminal)")
    q.set_defaults(func=cmd_download)

    q = actions.add_parser("info", help="everything the catalogue says about one weight set, and where it is")
    q.add_argument("tag", metavar="TAG", help=TAG_HELP)
    q.set_defaults(func=cmd_info)


def cmd_list(args) -> int:
    from ..weights.catalogue import list_weights
    from ..weights.download import cached_path

    found = list_weights(args.pattern)
    if not found:
        raise ReslabError(f"no weights match {args.pattern!r}; patterns match whole tags or presets: try "
                          f"'*{args.pattern.strip('*')}*', or `reslab weights list` for all")
    rows = [[ws.tag + (" *" if ws.is_default else ""), ws.source, _size(ws), _top1(ws),
             "yes" if cached_path(ws) else "no"] for ws in found]
    print(format_table(["tag", "source", "size", "top-1", "cached"], rows))
    print(f"{len(found)} weight sets; * = the preset's default (create_model(NAME, pretrained=True)); "
          "~ = size estimated from the parameters")
    return 0


def cmd_download(args) -> int:
    from ..weights.catalogue import get_weights
    from ..weights.download import cached_path, weights_file

    sets = [get_weights(tag) for tag in args.tags]  # every name checked before the first download
    for ws in sets:
        before = cached_path(ws)
        path = weights_file(ws, progress=False if args.no_progress else None)
        print(f"{ws.tag}: {'already cached' if before else 'downloaded to'} {path}")
    return 0


def cmd_info(args) -> int:
    from ..weights.catalogue import get_weights
    from ..weights.download import cache_location, cached_path

    ws = get_weights(args.tag)
    d = ws.to_dict()
    pre = ws.eval_preprocessing()
    cached = cached_path(ws)
    rows = [("tag", ws.tag + (" (the preset's default)" if ws.is_default else "")), ("preset", ws.preset),
            ("source", ws.source)]
    rows += [(k, d[k]) for k in ("url", "file_name", "sha256_prefix", "sha256", "hf_repo", "hf_file", "layout")
             if d.get(k)]
    at = (f" at {d['top1_input_size']} px, crop_pct {d['top1_crop_pct']}" if d.get("top1_input_size") else "")
    rows += [("top-1", _top1(ws) + (f" ({ws.top1_source}{at})" if ws.top1_source else "")),
             ("evaluation", f"{pre.input_size} px, crop_pct {pre.crop_pct}, {pre.interpolation}, "
                            f"mean {list(pre.mean)}, std {list(pre.std)}")]
    if "test_input_size" in ws.preprocessing:
        rows.append(("training size", f"{ws.preprocessing['input_size']} px"))
    rows += [("classes", f"{ws.num_classes}" + (f" ({ws.classes})" if ws.classes else "")),
             ("size", _size(ws)), ("params (M)", ws.params_m), ("license", ws.license)]
    rows += [(k, v) for k, v in ws.extra.items() if v not in (None, "", []) and not k.startswith("top1_")]
    rows += [("notes", ws.notes), ("cached", f"yes: {cached}" if cached else f"no (would go to {cache_location(ws)})"),
             ("use", f"reslab.create_model({ws.tag!r}, pretrained=True)")]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        if value not in (None, ""):
            print(f"{key:<{width}}  {value}")
    return 0


def _size(ws) -> str:
    if ws.size_mb is None:
        return "?"
    return f"{'' if ws.file_size_mb is not None else '~'}{ws.size_mb:.0f} MB"


def _top1(ws) -> str:
    return f"{ws.top1:.2f}" if ws.top1 is not None else "-"


# --- the options of commands that load a model (eval, predict, export) ------------------------------------------

def add_model_options(p, checkpoint_flag: bool = True) -> None:
    """--checkpoint PATH (unless the command takes it as an argument), or --model NAME[.TAG] --pretrained; and
    --rename for the checkpoint's keys."""
    if checkpoint_flag:
        p.add_argument("--checkpoint", default=None,
                       help="run directory or checkpoint file (with --model: a timm/torchvision file for that model)")
    p.add_argument("--model", default=None, metavar="NAME[.TAG]",
                   help="with --pretrained: published weights ('resnet50.a1_in1k'; `reslab weights list`)")
    p.add_argument("--pretrained", action="store_true", help="load the published weights --model names")
    add_rename_option(p)


def add_rename_option(p) -> None:
    p.add_argument("--rename", action="append", default=None, metavar="PATTERN=REPLACEMENT",
                   help="rename the checkpoint's keys (regular expression, re.sub), e.g. '^linear\\.=fc.'; repeatable")


def parse_rename(values: list[str] | None) -> dict[str, str] | None:
    """['^linear\\.=fc.', ...] -> {'^linear\\.': 'fc.', ...}; split at the last '=' (lookarounds have one)."""
    if not values:
        return None
    rename = {}
    for value in values:
        pattern, eq, repl = value.rpartition("=")
        if not eq or not pattern:
            raise ReslabError(f"--rename {value!r}: expected PATTERN=REPLACEMENT, e.g. --rename '^linear\\.=fc.'")
        try:
            re.compile(pattern)
        except re.error as e:
            raise ReslabError(f"--rename {value!r}: {pattern!r} is not a regular expression ({e})") from None
        rename[pattern] = repl
    return rename


def check_model_options(args, checkpoint: str | None, flag: str = "--checkpoint PATH") -> None:
    """Exactly one source of weights: a checkpoint (`flag` says how the command takes it), or --model NAME
    --pretrained; checked before anything is loaded."""
    if args.pretrained and checkpoint:
        raise ReslabError(f"give {flag} or --model NAME --pretrained, not both")
    if args.pretrained and not args.model:
        raise ReslabError("--pretrained loads the weights --model names: add --model NAME[.TAG] "
                          "(e.g. --model resnet50.a1_in1k; `reslab weights list` shows them)")
    if not args.pretrained and not checkpoint:
        raise ReslabError(f"give {flag} (a run directory or checkpoint file), or --model NAME[.TAG] --pretrained "
                          "for published weights")
    parse_rename(args.rename)


def load_model_from_args(args, checkpoint: str | None):
    """(model, the weights file, a short name for what was loaded) as the options say (checked already)."""
    from ..factory import create_model
    from ..weights import load_model
    from ..weights.rundir import find_weights

    rename = parse_rename(args.rename)
    if args.pretrained:
        from ..weights.download import weights_file

        name, overrides = model_variant(args.model)
        model = create_model(name, pretrained=True, rename=rename, **overrides)
        return model, weights_file(model.weights_tag, progress=False), model.weights_tag
    path = find_weights(checkpoint)
    from ..weights.headless import refuse_headless

    refuse_headless(path)  # a pre-training run has no classifier to evaluate or predict with
    if args.model:  # the architecture of a foreign checkpoint; a ResLab checkpoint's own must not be contradicted
        from ..weights import load_weights
        from ..weights.loading import refuse_contradiction

        name, overrides = model_variant(args.model)
        model = create_model(name, **overrides)
        if not refuse_contradiction(model, path, "--model", args.model):
            load_weights(model, path, rename=rename)  # a classifier that does not fit is refused, not made anew
            return model, path, str(path)
    return load_model(path, rename), path, str(path)


def model_variant(text: str) -> tuple[str, dict]:
    """'NAME[.TAG][:field=value...]' -> (name with its tag, spec overrides), as other commands take models."""
    from ..variant import parse_variant
    from ..weights.catalogue import split_name

    head, colon, fields = text.partition(":")
    if not colon:
        return text, {}
    preset, tag = split_name(head)
    name, overrides = parse_variant(f"{preset}:{fields}")
    return (f"{name}.{tag}" if tag else name), overrides
