"""`reslab zoo`: the evolution table of the ResNet story, as Markdown on the terminal and in a file."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ReslabError
from ..util.files import check_writable_file, save_or_explain


def add_commands(sub) -> None:
    p = sub.add_parser("zoo", help="the evolution table: one row per milestone, its idea, size and cost")
    p.add_argument("--bench", action="store_true", help="also measure ResLab's inference images/s on this machine")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="with --bench; default: %(default)s")
    p.add_argument("--batch-size", type=int, default=8, help="with --bench: images per step; default: %(default)s")
    p.add_argument("--img-size", type=int, default=None, help="benchmark resolution (default: each model's own)")
    p.add_argument("--repeats", type=int, default=5, help="with --bench: timed steps per model; default: %(default)s")
    p.add_argument("--output", type=Path, default=None, metavar="FILE.md",
                   help="also write the table as a Markdown document")
    p.add_argument("--roadmap", default=None, metavar="FAMILY",
                   help="a paper's step-by-step walk instead (convnext): change, fields, size, cost, paper top-1; "
                        "with --bench also inference and training images/s")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                   help="with --roadmap: paper top-1 against GMACs, the steps connected")
    p.set_defaults(func=cmd_zoo)


def cmd_zoo(args) -> int:
    from ..bench import BenchSettings
    from ..experiments.evolution import evolution_rows, to_markdown

    settings = None
    if args.bench:
        settings = BenchSettings(args.device, args.batch_size, args.img_size, repeats=args.repeats, warmup=2)
    if args.roadmap:
        return _roadmap(args, settings)
    if args.plot:
        raise ReslabError("--plot draws a roadmap: use it with --roadmap convnext")
    if args.output:
        check_writable_file(args.output, ReslabError)  # before the measuring, which can take minutes
    rows, missing = evolution_rows(settings)
    if missing:
        print(f"not registered yet, left out: {', '.join(missing)}", file=sys.stderr)
    table = to_markdown(rows, settings)
    print(table)
    if args.output:
        text = _document(table, settings, missing)
        save_or_explain(args.output, lambda tmp: Path(tmp).write_text(text), ReslabError)
        print(f"written to {args.output}", file=sys.stderr)
    return 0


def _roadmap(args, settings) -> int:
    from ..experiments.roadmap import plot_png, roadmap_rows, to_markdown

    for path in (args.output, args.plot):
        if path:
            check_writable_file(path, ReslabError)
    table = to_markdown(roadmap_rows(args.roadmap, settings), bench=settings is not None)
    print(table)
    if args.output:
        save_or_explain(args.output, lambda tmp: Path(tmp).write_text(table + "\n"), ReslabError)
        print(f"written to {args.output}", file=sys.stderr)
    if args.plot:
        png = plot_png(roadmap_rows(args.roadmap), args.roadmap)
        save_or_explain(args.plot, lambda tmp: Path(tmp).write_bytes(png), ReslabError)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _document(table: str, settings, missing: list[str]) -> str:
    """The zoo table as a Markdown file: what was measured, how, and what is not registered yet."""
    lines = ["# The ResNet family, milestone by milestone", "",
             "Parameters and GMACs (multiply-accumulates per image) measured on ResLab's own models at each "
             "model's input size.", ""]
    if settings is not None:
        size = f"{settings.img_size} px" if settings.img_size else "each model's input size"
        lines += [f"img/s: ResLab inference on {settings.device}, batch {settings.batch_size}, {size}, median of "
                  f"{settings.repeats} timed steps after {settings.warmup} warm-up steps.", ""]
    lines += [table, ""]
    if missing:
        lines += [f"Not registered when this table was made: {', '.join(missing)}.", ""]
    return "\n".join(lines)

