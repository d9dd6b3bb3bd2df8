"""`reslab models`, `reslab info`, `reslab diff`: look at the zoo."""
from __future__ import annotations

import difflib

from ..errors import ReslabError
from ..registry import get_preset, list_models, list_presets
from ..util.table import format_table


def add_commands(sub) -> None:
    p = sub.add_parser("models", help="list the presets: family, year, paper, parameters, GMACs")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'resnet*d'")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("info", help="one model: its spec, size, cost and stage outputs (spec fields as --FIELD V)")
    p.add_argument("name", help="a preset, optionally with :field=value overrides")
    p.add_argument("--input-size", type=int, default=None,
                   help="cost and shapes at this resolution; default: the model's own")
    p.set_defaults(func=cmd_info, accepts_overrides=True)

    p = sub.add_parser("diff", help="the spec fields two models differ in, and what that costs")
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="two presets, each optionally with :field=value overrides (resnet18 resnet18:attention=se)")
    p.set_defaults(func=cmd_diff)


def cmd_models(args) -> int:
    from ..complexity import audio_frames, cached_complexity

    rows = []
    for p in list_presets(args.pattern):
        params, macs = cached_complexity(p.spec, frames=audio_frames(p.preprocessing))  # as `info` counts it
        rows.append([p.name, p.family, p.year, p.short_paper[:48], f"{params / 1e6:.2f}", f"{macs / 1e9:.2f}",
                     p.spec.input_size])
    if not rows:
        raise ReslabError(f"no model matches {args.pattern!r}; {_pattern_hint(args.pattern)}")
    print(format_table(["name", "family", "year", "paper", "params (M)", "GMACs", "input"], rows))
    return 0


def _pattern_hint(pattern: str) -> str:
    if list_models(f"*{pattern}*"):
        return f"a pattern matches whole names: try '*{pattern}*'"
    close = difflib.get_close_matches(pattern.strip("*"), list_models(), n=3, cutoff=0.6)
    return f"did you mean {', '.join(close)}?" if close else "`reslab models` lists them all"


# where option A's zero channels go, in words (`reslab info`): checkpoints of the other placement load but predict
# worse, so a user comparing with third-party CIFAR code needs to see it
ZEROPAD_PLACEMENT = {"end": "zeros after the identity channels",
                     "both": "zeros split around the identity channels, half before (rounded down), the rest after"}


def cmd_info(args) -> int:
    from ..bench import complexity_at
    from ..factory import create_model, resolve_spec
    from ..complexity import audio_frames, count_params, stage_shapes
    from ..variant import parse_overrides, parse_variant

    name, overrides = parse_variant(args.name)
    preset = get_preset(name)
    spec = resolve_spec(name, **{**overrides, **parse_overrides(args.overrides, preset.spec)})
    size = spec.input_size if args.input_size is None else args.input_size
    if size < 1:
        raise ReslabError(f"--input-size must be a positive number of pixels, got {size}")
    audio, frames = preset.preprocessing.audio, audio_frames(preset.preprocessing)  # an audio model: 1 s of frames
    params, macs = complexity_at(args.name, spec, size, ReslabError, frames)
    model = create_model(spec)
    print(f"{args.name}: {preset.family} ({preset.year}) - {preset.paper}")
    if preset.idea:
        print(f"idea: {preset.idea}")
    cost = (f"GMACs per second of audio ({frames} frames of {size} mel bands at {audio.sample_rate} Hz): "
            f"{macs / 1e9:.4f}" if audio else f"GMACs @ {size}px: {macs / 1e9:.3f}")
    print(f"parameters: {count_params(model) / 1e6:.3f} M   {cost}")
    if preset.params_m_paper or preset.gmacs_paper:
        print(f"paper: {preset.params_m_paper or '-'} M params, {preset.gmacs_paper or '-'} GMACs, "
              f"top-1 {preset.top1_paper or '-'}")
    oracles = ", ".join(f"{k} {v}" for k, v in (("timm", preset.timm), ("torchvision", preset.torchvision)) if v)
    if oracles:
        print(f"same model in: {oracles}")
    if getattr(spec, "residual", False) and getattr(spec, "shortcut", None) == "zeropad":
        print(f"option-A shortcut: {ZEROPAD_PLACEMENT[spec.zeropad_side]} (zeropad_side={spec.zeropad_side})")
    print("\nspec:")
    fields = spec.to_dict()
    width = max(map(len, fields))
    for key, value in fields.items():
        print(f"  {key:{width}s} {_fmt(value)}")
    print("\nstage outputs " + ("(C, mel bands, frames) for 1 s of audio:" if audio else "(C, H, W):"))
    for stage, shape in stage_shapes(model, size, spec.in_chans, frames):
        print(f"  {stage:8s} {shape}")
    return 0


def cmd_diff(args) -> int:
    from ..complexity import cached_complexity
    from ..spec import spec_diff
    from ..variant import variant_spec

    if len(args.models) != 2:
        raise ReslabError(f"diff compares two models, got {len(args.models)} ({' '.join(args.models) or 'none'}); "
                          "e.g. reslab diff resnet50 resnet50d")
    a, b = (variant_spec(name) for name in args.models)
    rows = [[k, _fmt(va), _fmt(vb)] for k, va, vb in spec_diff(a, b)]
    print(format_table(["field", *args.models], rows) if rows else "the specs are identical")
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
