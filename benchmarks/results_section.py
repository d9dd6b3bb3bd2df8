"""Render bench JSON files as a Markdown section of benchmarks/RESULTS.md, replacing only that section.

    python benchmarks/results_section.py SECTION HEADING FILE.json [FILE.json ...]

SECTION names the markers `<!-- SECTION:start -->` / `<!-- SECTION:end -->`; other sections (written by
other scripts or people) are left as they are. The JSON files are `reslab bench --json` reports.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from reslab.util.table import format_table  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS.md")


def variant_label(settings: dict) -> str:
    if not settings["compile"]:
        return "eager"
    mode = settings.get("compile_mode", "default")
    label = "compiled" if mode == "default" else f"compiled ({mode})"
    return label + (" + fold_bn" if settings.get("fold_bn") else "")


def paired_rows(reports: list[dict]) -> list[list]:
    """One row per model, mode and variant: ResLab next to each reference measured in the same process."""
    order = list(dict.fromkeys(r["model"] for report in reports for r in report["results"]))
    keyed = []
    for index, report in enumerate(reports):
        label = variant_label(report["settings"])
        results = report["results"]
        for ours in (r for r in results if r["impl"] == "reslab"):
            same = [r for r in results if r["model"] == ours["model"] and r["mode"] == ours["mode"]
                    and r["impl"] != "reslab"]
            for theirs in same or [None]:
                keyed.append(((order.index(ours["model"]), label != "eager", index, ours["mode"]), [
                    ours["model"], ours["mode"], label, f"{ours['images_per_s']:.1f}",
                    "-" if theirs is None else f"{theirs['images_per_s']:.1f}",
                    "-" if theirs is None else f"{theirs['ratio']:.3f}",
                    "-" if theirs is None or theirs.get("paired_ratio") is None else
                    f"{theirs['paired_ratio']:.3f} ({theirs['paired_ratio_q1']:.3f}-{theirs['paired_ratio_q3']:.3f})",
                    f"{ours['latency_ms']:.1f} ({ours['latency_ms_q1']:.1f}-{ours['latency_ms_q3']:.1f})",
                    f"{ours['peak_memory_mb']:.0f}", "-" if theirs is None else f"{theirs['peak_memory_mb']:.0f}",
                    "-" if theirs is None else theirs["impl"]]))
    return [row for _, row in sorted(keyed, key=lambda k: k[0])]


def section(name: str, heading: str, reports: list[dict]) -> str:
    headers = ["model", "mode", "variant", "ours img/s", "theirs img/s", "ours/theirs", "paired (IQR)",
               "ours latency ms (IQR)", "ours peak MB", "theirs peak MB", "theirs"]
    settings = reports[0]["settings"]
    env = reports[0]["environment"]
    machine = env.get("gpu") or f"{env['cpu']} CPU, {env['threads']} threads"
    lines = [f"<!-- {name}:start -->", f"## {heading}", ""]
    commands = list(dict.fromkeys(r["command"] for r in reports if r.get("command")))
    lines += [f"Command: `{c}`" for c in commands] + ([""] if commands else [])
    lines += [f"Machine: {machine}; torch {env['torch']}, timm {env.get('timm', '-')}. Batch {settings['batch_size']}, "
              f"{settings['img_size'] or 'native'} px, "
              f"amp {settings['amp']}, channels-last {settings['channels_last']}, {settings['warmup']} warm-up + "
              f"{settings['repeats']} timed steps; img/s = batch / median step time; "
              f"ours/theirs: of the median img/s; paired: their step time over ours in the same turn, median and "
              f"quartiles over the turns (a difference whose IQR spans 1.000 is within the noise); "
              f"peak MB: {reports[0]['memory']}.",
              "", format_table(headers, paired_rows(reports), markdown=True), ""]
    notes = sorted({n for r in reports for n in r["notes"]})
    if notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    lines.append(f"<!-- {name}:end -->")
    return "\n".join(lines)


def replace_section(text: str, name: str, new: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start in text and end in text:
        return text[:text.index(start)] + new + text[text.index(end) + len(end):]
    return text.rstrip() + "\n\n" + new + "\n"


def main(argv: list[str]) -> int:
    name, heading, *files = argv
    reports = [json.loads(Path(f).read_text()) for f in files]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    RESULTS.write_text(replace_section(text, name, section(name, heading, reports)))
    print(f"updated section {name!r} of {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
