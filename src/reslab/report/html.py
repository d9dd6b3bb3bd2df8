"""report.html: one self-contained page (styles inline, figures embedded as base64 PNG), nothing fetched."""
from __future__ import annotations

import base64
import html

from .plots import FIGURE_NOTES
from .results import TABLE_NOTE, Comparison

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 4px 10px; text-align: right; }
th { background: #e8eef7; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; width: 48%; margin: 0.5em 0; vertical-align: top; } img { max-width: 100%; }
figure.wide { width: 100%; }
.note { color: #555; font-size: 0.9em; }
"""


def _table(headers: list, rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(stem: str, png: bytes) -> str:
    wide = ' class="wide"' if stem == "training_curves" else ""  # one panel per logged column, side by side
    data = base64.b64encode(png).decode()
    caption = html.escape(stem.replace("_", " "))
    if stem in FIGURE_NOTES:
        caption += f'<br><span class="note">{html.escape(FIGURE_NOTES[stem])}</span>'
    return (f'<figure{wide}><img alt="{html.escape(stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption}</figcaption></figure>")


def render_html(comparison: Comparison, figures: dict[str, bytes]) -> str:
    headers, rows = comparison.table()
    settings = ", ".join(f"{k} {v}" for k, v in comparison.settings.items())
    images = "".join(_figure(stem, png) for stem, png in figures.items())
    runs = _table(*comparison.run_table())
    note = f"<p>{html.escape(comparison.note)}</p>" if comparison.note else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(comparison.title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{html.escape(comparison.title)}</h1>
{note}
<p>Same training settings for every model: {html.escape(settings)}.</p>
<p>Machine: {html.escape(comparison.machine)}.</p>
{_table(headers, rows)}
<p class="note">{html.escape(TABLE_NOTE)}</p>
{images}
<h2>Runs</h2>
{runs}
</body></html>
"""
