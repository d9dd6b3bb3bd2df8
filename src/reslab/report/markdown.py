"""report.md: the comparison table and the figures, saved beside it as PNG files."""
from __future__ import annotations

from ..util.table import format_table
from .plots import FIGURE_NOTES
from .results import TABLE_NOTE, Comparison


def render_markdown(comparison: Comparison, figure_files: dict[str, str]) -> str:
    """Markdown text; `figure_files` maps each figure's stem to its file name relative to the report."""
    headers, rows = comparison.table()
    settings = ", ".join(f"{k} {v}" for k, v in comparison.settings.items())
    lines = [f"# {comparison.title}", ""]
    if comparison.note:
        lines += [comparison.note, ""]
    lines += [f"Same training settings for every model: {settings}.", "",
              f"Machine: {comparison.machine}.", "",
              format_table(headers, rows, markdown=True), "",
              TABLE_NOTE, ""]
    for stem, name in figure_files.items():
        lines += [f"![{stem.replace('_', ' ')}]({name})", ""]
        if stem in FIGURE_NOTES:
            lines += [FIGURE_NOTES[stem], ""]
    lines += ["## Runs", "", format_table(*comparison.run_table(), markdown=True), ""]
    return "\n".join(lines)
