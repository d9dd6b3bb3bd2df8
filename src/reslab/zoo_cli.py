"""`reslab models`, `reslab info`, `reslab diff`: look at the zoo."""
from __future__ import annotations

from .cli import parse_overrides
from .factory import create_model, resolve_spec
from .info import cached_complexity, count_params, stage_shapes
from .registry import get_preset, list_presets
from .spec import spec_diff
from .table import format_table


def add_commands(sub) -> None:
    p = sub.add_parser("models", help="list the presets: family, year, paper, parameters, GMACs")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'resnet*d'")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("info", help="one model: its spec, size, cost and stage outputs (spec fields as --FIELD V)")
    p.add_argument("name")
    p.add_argument("--input-size", type=int, default=None)
    p.set_defaults(func=cmd_info, accepts_overrides=True)

    p = sub.add_parser("diff", help="the spec fields two models differ in, and what that costs")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=cmd_diff)


def cmd_models(args) -> int:
    rows = []
    for p in list_presets(args.pattern):
        params, macs = cached_complexity(p.spec)
        rows.append([p.name, p.family, p.year, _short_paper(p.paper), f"{params / 1e6:.2f}", f"{macs / 1e9:.2f}",
                     p.spec.input_size])
    if not rows:
        print(f"no model matches {args.pattern!r}")
        return 1
    print(format_table(["name", "family", "year", "paper", "params (M)", "GMACs", "input"], rows))
    return 0


def cmd_info(args) -> int:
    preset = get_preset(args.name)
    spec = resolve_spec(args.name, **parse_overrides(args.overrides, preset.spec))
    size = args.input_size or spec.input_size
    model = create_model(spec)
    params, macs = cached_complexity(spec, size)
    print(f"{args.name}: {preset.family} ({preset.year}) - {preset.paper}")
    if preset.idea:
        print(f"idea: {preset.idea}")
    print(f"parameters: {count_params(model) / 1e6:.3f} M   GMACs @ {size}px: {macs / 1e9:.3f}")
    if preset.params_m_paper or preset.gmacs_paper:
        print(f"paper: {preset.params_m_paper or '-'} M params, {preset.gmacs_paper or '-'} GMACs, "
              f"top-1 {preset.top1_paper or '-'}")
    oracles = ", ".join(f"{k} {v}" for k, v in (("timm", preset.timm), ("torchvision", preset.torchvision)) if v)
    if oracles:
        print(f"same model in: {oracles}")
    print("\nspec:")
    fields = spec.to_dict()
    width = max(map(len, fields))
    for key, value in fields.items():
        print(f"  {key:{width}s} {_fmt(value)}")
    print("\nstage outputs (C, H, W):")
    for name, shape in stage_shapes(model, size, spec.in_chans):
        print(f"  {name:8s} {shape}")
    return 0


def cmd_diff(args) -> int:
    a, b = get_preset(args.a).spec, get_preset(args.b).spec
    rows = [[k, _fmt(va), _fmt(vb)] for k, va, vb in spec_diff(a, b)]
    print(format_table(["field", args.a, args.b], rows) if rows else "the specs are identical")
    (pa, ma), (pb, mb) = cached_complexity(a), cached_complexity(b)
    print(f"\nparameters: {pa / 1e6:.3f} M -> {pb / 1e6:.3f} M ({(pb - pa) / 1e6:+.3f} M)")
    print(f"GMACs:      {ma / 1e9:.3f} -> {mb / 1e9:.3f} ({(mb - ma) / 1e9:+.3f})")
    return 0


def _fmt(v) -> str:
    if v is None:
        return "-"  # the other family's spec has no such field
    if v == "":
        return '""'
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def _short_paper(paper: str) -> str:
    return paper.split(" (")[0][:48]
