"""`reslab eval`: top-1/5, loss, per-class accuracy and a confusion matrix of a run, a checkpoint or published
weights (`--model resnet50.a1_in1k --pretrained`), each with its own preprocessing."""
from __future__ import annotations

import json
from pathlib import Path

from ..table import format_table
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
                                                     "for published weights, in the current folder)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--knn", action="store_true", help="kNN top-1 of the frozen backbone (k=200, t=0.1): queries "
                                                      "from --data's val/, the labelled bank from --bank's train/")
    p.add_argument("--bank", default=None, help="with --knn: the dataset root whose train/ is the bank "
                                                "(default: --data)")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from ..errors import ReslabError
    from ..train.checkpoint import find_weights
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
    if args.confusion:
        png = Path(args.confusion)
    elif args.pretrained:
        png = Path(f"confusion_{model.weights_tag}_{args.split}.png")
    else:
        png = weights.parent / f"confusion_{args.split}.png"
    result = evaluate_model(model, args.data, split=args.split, tta=args.tta, batch_size=args.batch_size,
                            confusion_png=png, name=name,
                            title=model.weights_tag if args.pretrained else weights.parent.name)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"{name} on {args.data or 'digits'}/{args.split}{' (flip TTA)' if args.tta else ''}: "
          f"{result.images} images")
    print(f"top-1 {result.top1:.2%}   top-5 {result.top5:.2%}   loss {result.loss:.4f}"
          + (f"   ({len(result.unreadable)} unreadable images skipped)" if result.unreadable else ""))
    print(format_table(["class", "accuracy"], [[c, f"{a:.2%}"] for c, a in result.per_class.items()]))
    print(f"confusion matrix: {png}")
    return 0


def _cmd_knn(args) -> int:
    from ..errors import ReslabError
    from ..selfsup.knn import knn_eval

    if not args.checkpoint:
        raise ReslabError("--knn scores a checkpoint's backbone: give --checkpoint RUN")
    result = knn_eval(args.checkpoint, args.data, bank=args.bank, batch_size=args.batch_size)
    if args.json:
        print(json.dumps({"knn_top1": result.top1, "queries": result.queries, "bank": result.bank}))
        return 0
    print(f"kNN top-1 {result.top1:.2%} (k=200, t=0.1): {result.queries} queries from {args.data or 'digits'}/val, "
          f"bank of {result.bank} from {args.bank or args.data or 'digits'}/train")
    return 0
