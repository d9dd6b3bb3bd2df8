"""`reslab predict` and `reslab export`: use a trained checkpoint."""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

from .data.errors import DataError
from .errors import ReslabError
from .export import FORMATS, export
from .predict import Predictor, image_files, predict_files
from .train.device import pick_device
from .train.checkpoint import find_weights
from .files import atomic_write
from .weights import load_model


def add_commands(sub) -> None:
    p = sub.add_parser("predict", help="top-k classes of images (files or directories) with a checkpoint")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--checkpoint", required=True,
                   help="run directory or ResLab .safetensors checkpoint (spec + preprocessing)")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--output", help="write all predictions to a .csv or .json file")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="BN-folded ONNX / TorchScript / torch.export file, verified against PyTorch")
    p.add_argument("checkpoint")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--output", required=True)
    p.add_argument("--input-size", type=int, default=None, help="default: the checkpoint's input size")
    p.add_argument("--batch-size", type=int, default=1, help="batch of the example input")
    p.add_argument("--no-fold", action="store_true", help="keep BatchNorm layers as they are")
    p.add_argument("--dynamic-batch", action="store_true", help="any batch size (onnx, exported-program)")
    p.add_argument("--opset", type=int, default=None, help="ONNX operator set (onnx only)")
    p.add_argument("--tolerance", type=float, default=1e-3, help="largest accepted max abs difference")
    p.set_defaults(func=cmd_export)


def cmd_predict(args) -> int:
    output = Path(args.output) if args.output else None
    check_predict_args(args, output)
    missing = [p for p in args.inputs if not Path(p).exists()]
    if missing:
        raise DataError(f"no such file or directory: {', '.join(missing)}")
    files = image_files(args.inputs)
    predictor = Predictor(find_weights(args.checkpoint), device=args.device)
    rows, failed = [], []
    for path, preds, error in predict_files(predictor, files, args.topk, args.batch_size, progress_bar):
        if error:
            failed.append(error)
            print(f"\rskipped {error}", file=sys.stderr)
            continue
        rows.append((str(path), preds))
        print(f"{path}: " + ", ".join(f"{name} ({p:.3f})" for name, p in preds))
    if not rows:
        raise DataError(f"none of the {len(files)} file(s) could be read as an image (each is named above)")
    if output is not None:
        write_predictions(output, rows)
        print(f"wrote {len(rows)} predictions to {output}")
    if failed:
        print(f"{len(failed)} of {len(files)} file(s) could not be read", file=sys.stderr)
    return 1 if failed else 0


def check_predict_args(args, output: Path | None) -> None:
    """Every option checked before the model loads and the images are read."""
    if args.topk < 1:
        raise ReslabError(f"--topk must be at least 1, got {args.topk}")
    if args.batch_size < 1:
        raise ReslabError(f"--batch-size must be at least 1, got {args.batch_size}")
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


def progress_bar(done: int, total: int) -> None:
    if total <= 1 or not sys.stderr.isatty():
        return
    filled = 30 * done // total
    end = "\n" if done == total else ""
    print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} images", end=end, file=sys.stderr, flush=True)


def write_predictions(path: Path, rows) -> None:
    """The .json or .csv file, written through a temporary file and renamed: never half-written."""
    write = _write_json if path.suffix == ".json" else _write_csv
    atomic_write(path, lambda tmp: write(tmp, rows))


def _write_json(tmp: str, rows) -> None:
    data = [{"file": f, "predictions": [{"class": c, "probability": p} for c, p in preds]} for f, preds in rows]
    Path(tmp).write_text(json.dumps(data, indent=2))


def _write_csv(tmp: str, rows) -> None:
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "rank", "class", "probability"])
        for f, preds in rows:
            for rank, (c, p) in enumerate(preds, 1):
                writer.writerow([f, rank, c, f"{p:.6f}"])


def cmd_export(args) -> int:
    model = load_model(find_weights(args.checkpoint))
    result = export(model, args.output, args.format, input_size=args.input_size, batch_size=args.batch_size,
                    fold=not args.no_fold, dynamic_batch=args.dynamic_batch, opset=args.opset,
                    tolerance=args.tolerance)
    if not args.no_fold:
        print(f"folded {result['folded_norms']} BatchNorm layer(s) into their convolutions"
              + (f"; {len(result['unfolded_norms'])} precede their convolution and stay" if result["unfolded_norms"]
                 else ""))
    print(f"wrote {result['path']} ({args.format}); verified on a batch of {result['batch_checked']}: "
          f"max abs difference to PyTorch {result['max_abs_diff']:.3g}")
    return 0
