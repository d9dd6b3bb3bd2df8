"""`reslab predict`: the top-k classes of images, files or folders, with a checkpoint's own preprocessing (or that
of published weights: `--model resnet50.a1_in1k --pretrained`)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import ReslabError
from .weights import add_model_options, check_model_options, load_model_from_args


def add_commands(sub) -> None:
    p = sub.add_parser("predict", help="top-k classes of images (files or directories) with a checkpoint or "
                                       "published weights")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    add_model_options(p)
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--output", help="write all predictions to a .csv or .json file")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args) -> int:
    from ..data.errors import DataError
    from ..deploy.predict import Predictor, image_files, predict_files, write_predictions
    from ..util.progress import ProgressBar

    output = Path(args.output) if args.output else None
    check_predict_args(args, output)
    missing = [p for p in args.inputs if not Path(p).exists()]
    if missing:
        raise DataError(f"no such file or directory: {', '.join(missing)}")
    files = image_files(args.inputs)
    predictor = Predictor(load_model_from_args(args, args.checkpoint)[0], device=args.device)
    bar = ProgressBar(len(files), "predict", enabled=len(files) > 1 and sys.stderr.isatty())
    rows, failed = [], []
    for path, preds, error in predict_files(predictor, files, args.topk, args.batch_size, bar):
        if error:
            failed.append(error)
            print(f"\rskipped {error}", file=sys.stderr)
            continue
        rows.append((str(path), preds))
        print(f"{path}: " + ", ".join(f"{name} ({p:.3f})" for name, p in preds))
    if predictor.converted:
        from ..data.audio_io import converted_line

        print(converted_line(predictor.converted), file=sys.stderr)
    if not rows:
        kind = "a clip" if predictor.preprocessing.audio is not None else "an image"
        raise DataError(f"none of the {len(files)} file(s) could be read as {kind} (each is named above)")
    if output is not None:
        write_predictions(output, rows)
        print(f"wrote {len(rows)} predictions to {output}")
    if failed:
        print(f"{len(failed)} of {len(files)} file(s) could not be read", file=sys.stderr)
    return 1 if failed else 0


def check_predict_args(args, output: Path | None) -> None:
    """Every option checked before the model loads and the images are read."""
    check_model_options(args, args.checkpoint)
    if args.topk < 1:
        raise ReslabError(f"--topk must be at least 1, got {args.topk}")
    if args.batch_size < 1:
        raise ReslabError(f"--batch-size must be at least 1, got {args.batch_size}")
    from ..train.device import pick_device

    pick_device(args.device)
    if output is not None:
        check_output(output)


def check_output(output: Path) -> None:
    """A .csv or .json path that can be created: its nearest existing parent is a writable folder."""
    if output.suffix not in (".csv", ".json"):
        raise ReslabError(f"--output {output}: name it .csv or .json")
    if output.is_dir():
        raise ReslabError(f"--output {output} is a folder; give a file name ending .csv or .json")
    parent = next(p for p in output.absolute().parents if p.exists())
    if not parent.is_dir():
        raise ReslabError(f"--output {output}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise ReslabError(f"--output {output}: cannot write in {parent} (permission denied)")
