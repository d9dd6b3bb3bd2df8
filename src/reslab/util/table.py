"""Plain-text and Markdown tables for terminal output and reports."""
from __future__ import annotations


def format_table(headers: list[str], rows: list[list], markdown: bool = False) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]

    def line(r):
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    rule = ("|" + "|".join(("-" * (w + 1) + ":") if num else "-" * (w + 2) for w, num in zip(widths, numeric)) + "|"
            if markdown else "  ".join("-" * w for w in widths))
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


def _is_number(s: str) -> bool:
    try:
        float(s.replace("±", "").split()[0]) if s else None
        return bool(s)
    except ValueError:
        return False
