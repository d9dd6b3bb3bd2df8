"""`reslab export`: a checkpoint (or published weights) as a BN-folded ONNX, TorchScript or exported-program file,
verified."""
from __future__ import annotations

from pathlib import Path

from .weights import add_model_options, check_model_options, load_model_from_args, model_variant


def add_commands(sub) -> None:
    from ..choices import EXPORT_FORMATS  # the library's own list, without importing torch

    p = sub.add_parser("export", help="BN-folded ONNX / TorchScript / torch.export file, verified against PyTorch")
    p.add_argument("checkpoint", nargs="?", default=None,
                   help="run directory or checkpoint file (or --model NAME[.TAG] --pretrained instead)")
    add_model_options(p, checkpoint_flag=False)
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="the file format (exported-program: .pt2)")
    p.add_argument("--output", required=True, help="the file to write (its folder is created)")
    p.add_argument("--input-size", type=int, default=None, help="default: the checkpoint's input size")
    p.add_argument("--batch-size", type=int, default=1, help="batch of the example input")
    p.add_argument("--no-fold", action="store_true", help="keep BatchNorm layers as they are")
    p.add_argument("--dynamic-batch", action="store_true", help="any batch size (onnx, exported-program)")
    p.add_argument("--opset", type=int, default=None, help="ONNX operator set (onnx only)")
    p.add_argument("--tolerance", type=float, default=1e-3, help="largest accepted max abs difference")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from ..deploy.export import check_output, export

    check_model_options(args, args.checkpoint, flag="a CHECKPOINT")
    check_output(args.output, args.format, source=_source(args))  # before anything is loaded or traced
    model = load_model_from_args(args, args.checkpoint)[0]
    result = export(model, args.output, args.format, input_size=args.input_size, batch_size=args.batch_size,
                    fold=not args.no_fold, dynamic_batch=args.dynamic_batch, opset=args.opset,
                    tolerance=args.tolerance)
    if not args.no_fold:
        print(f"folded {result['folded_norms']} BatchNorm layer(s) into their convolutions"
              + (f"; {len(result['unfolded_norms'])} precede their convolution and stay" if result["unfolded_norms"]
                 else ""))
    print(f"wrote {result['path']} ({args.format}); verified on a batch of {result['batch_checked']}: "
          f"max abs difference to PyTorch {result['max_abs_diff']:.3g}")
    where = "metadata_props" if args.format == "onnx" else "extra file reslab.json"
    print(f"metadata ({where}; reslab.export.read_metadata reads it):")
    for key, value in result["metadata"].items():
        if key != "preprocessing":  # the fields above, as one JSON object
            print(f"  {key:<14} {_shorten(value)}")
    if args.format == "torchscript":
        print("note: PyTorch deprecates TorchScript; --format exported-program (.pt2) is its successor")
    return 0


def _source(args) -> Path | None:
    """The weights file an export reads (which it must never replace): the checkpoint, a run directory's last
    weights, or the published file if it is on this machine."""
    if args.pretrained:
        from ..weights.catalogue import get_weights
        from ..weights.download import cached_path

        return cached_path(get_weights(model_variant(args.model)[0]))
    from ..weights.rundir import find_weights

    return find_weights(args.checkpoint)


def _shorten(value: str, limit: int = 100) -> str:
    """A long value (1000 class names) cut to one line."""
    return value if len(value) <= limit else f"{value[:limit - 20]} ... ({len(value)} characters)"
