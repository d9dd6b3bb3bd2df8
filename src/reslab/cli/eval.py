"""`reslab eval`: top-1/5, loss, per-class accuracy and a confusion matrix of a run or checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

from ..table import format_table


def add_commands(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a run directory or checkpoint: top-1/5, loss, per-class, confusion")
    p.add_argument("--checkpoint", required=True, help="run directory or .safetensors file")
    p.add_argument("--data", default=None, help="dataset root (default: built-in digits)")
    p.add_argument("--split", default="val")
    p.add_argument("--tta", action="store_true", help="average with the horizontally flipped image")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--confusion", default=None, help="confusion-matrix PNG path (default: beside the checkpoint)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    from ..train.checkpoint import find_weights
    from ..train.evaluate import evaluate_checkpoint

    weights = find_weights(args.checkpoint)
    png = Path(args.confusion) if args.confusion else weights.parent / f"confusion_{args.split}.png"
    result = evaluate_checkpoint(args.checkpoint, args.data, split=args.split, tta=args.tta,
                                 batch_size=args.batch_size, confusion_png=png)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"{weights} on {args.data or 'digits'}/{args.split}{' (flip TTA)' if args.tta else ''}: "
          f"{result.images} images")
    print(f"top-1 {result.top1:.2%}   top-5 {result.top5:.2%}   loss {result.loss:.4f}"
          + (f"   ({len(result.unreadable)} unreadable images skipped)" if result.unreadable else ""))
    print(format_table(["class", "accuracy"], [[c, f"{a:.2%}"] for c, a in result.per_class.items()]))
    print(f"confusion matrix: {png}")
    return 0
