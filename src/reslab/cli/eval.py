"""`reslab eval`: top-1/5, loss, per-class accuracy and a confusion matrix of a run, a checkpoint or published
weights (`--model resnet50.a1_in1k --pretrained`), each with its own preprocessing."""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from ..errors import ReslabError
from ..util.files import check_writable_file, describe_os_error
from ..util.table import format_table
from .weights import add_model_options, check_model_options, load_model_from_args


def add_commands(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a run, checkpoint or published weights: top-1/5, loss, per-class, "
                                    "confusion")
    add_model_options(p)
    p.add_argument("--data", default=None, help="dataset root (default: built-in digits)")
    p.add_argument("--split", default="val")
    p.add_argument("--tta", action="store_true", help="average with the horizontally flipped image")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--confusion", default=None, help="confusion-matrix PNG path (default: beside the checkpoint; "
                                                     "for published weights, in the current folder; with "
                                                     "--json, none)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--knn", action="store_true", help="kNN top-1 of the frozen backbone (k=200, t=0.1): queries "
                                                      "from --data's val/, the labelled bank from --bank's train/")
    p.add_argument("--bank", default=None, help="with --knn: the dataset root whose train/ is the bank "
                                                "(default: --data)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar over the batches (with --knn, over the bank and the queries); default: on "
                        "when stderr is a terminal")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from ..weights.rundir import find_weights
    from ..train.evaluate import evaluate_model

    if args.knn:
        return _cmd_knn(args)
    if args.bank:
        raise ReslabError("--bank is the kNN classifier's labelled bank: give --knn with it")
    check_model_options(args, args.checkpoint)
    if args.batch_size < 1:
        raise ReslabError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.checkpoint:
        find_weights(args.checkpoint)  # a missing checkpoint is said before anything else happens
    model, weights, name = load_model_from_args(args, args.checkpoint)
    png = _confusion_path(args, model, weights)
    if args.confusion:  # asked for: a place that cannot take it is said now, not after the evaluation
        check_writable_file(png)
    result = evaluate_model(model, args.data, split=args.split, tta=args.tta, batch_size=args.batch_size, name=name,
                            progress=_progress(args))
    say = print
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        say = functools.partial(print, file=sys.stderr)  # stdout is the JSON alone
    else:
        print(f"{name} on {args.data or 'digits'}/{args.split}{' (flip TTA)' if args.tta else ''}: "
              f"{result.images} images")
        print(f"top-1 {result.top1:.2%}   top-5 {result.top5:.2%}   loss {result.loss:.4f}"
              + (f"   ({len(result.unreadable)} unreadable images skipped)" if result.unreadable else ""))
        print(format_table(["class", "accuracy"], [[c, f"{a:.2%}"] for c, a in result.per_class.items()]))
    if png is not None:  # side files after the metrics: a failure to write one never costs them
        title = model.weights_tag if args.pretrained else weights.parent.name
        _save_confusion(result, png, f"{title}: top-1 {result.top1:.2%}", bool(args.confusion), say)
    return 0


def _progress(args) -> bool:
    """--progress / --no-progress, else a bar when stderr is a terminal (never in a log file or a pipe)."""
    return sys.stderr.isatty() if args.progress is None else args.progress


def _confusion_path(args, model, weights) -> Path | None:
    """Where the confusion PNG goes: --confusion; else, except with --json, beside the checkpoint (for published
    weights, in the current folder)."""
    if args.confusion:
        return Path(args.confusion)
    if args.json:
        return None
    if args.pretrained:
        return Path(f"confusion_{model.weights_tag}_{args.split}.png")
    return weights.parent / f"confusion_{args.split}.png"


def _save_confusion(result, png: Path, title: str, asked: bool, say) -> None:
    """Write the PNG and say where it went; a default place that cannot take it (a read-only run folder) is said
    and skipped, a place asked for that fails is an error."""
    from ..train.evaluate import save_confusion_png

    try:
        save_confusion_png(result, png, title=title)
    except OSError as e:
        why = describe_os_error(e, with_name=False)
        if asked:
            raise ReslabError(f"cannot write --confusion {png}: {why}; choose another place") from None
        print(f"confusion matrix not written: cannot write {png} ({why}); give --confusion PATH to put it "
              "elsewhere", file=sys.stderr)
        return
    say(f"confusion matrix: {png}")


def _cmd_knn(args) -> int:
    from ..selfsup.knn import knn_eval

    if not args.checkpoint:
        raise ReslabError("--knn scores a checkpoint's backbone: give --checkpoint RUN")
    result = knn_eval(args.checkpoint, args.data, bank=args.bank, batch_size=args.batch_size,
                      progress=_progress(args))
    if args.json:
        print(json.dumps({"knn_top1": result.top1, "queries": result.queries, "bank": result.bank}))
        return 0
    print(f"kNN top-1 {result.top1:.2%} (k=200, t=0.1): {result.queries} queries from {args.data or 'digits'}/val, "
          f"bank of {result.bank} from {args.bank or args.data or 'digits'}/train")
    return 0
