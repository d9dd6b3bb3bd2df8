"""report.md: the comparison table and the figures, saved beside it as PNG files."""
from __future__ import annotations

from ..table import format_table
from .results import Comparison


def render_markdown(comparison: Comparison, figure_files: dict[str, str]) -> str:
    """Markdown text; `figure_files` maps each figure's stem to its file name relative to the report."""
    headers, rows = comparison.table()
    settings = ", ".join(f"{k} {v}" for k, v in comparison.settings.items())
    lines = [f"# {comparison.title}", "", f"Same training settings for every model: {settings}.", "",
             f"Machine: {comparison.machine}.", "",
             format_table(headers, rows, markdown=True), "",
             "top-1: final-epoch validation accuracy of each run, mean ± sample standard deviation over seeds. "
             "img/s: inference throughput measured on this machine. train time: mean wall time of one run.", ""]
    for stem, name in figure_files.items():
        lines += [f"![{stem.replace('_', ' ')}]({name})", ""]
    lines += ["## Runs", "", format_table(*comparison.run_table(), markdown=True), ""]
    return "\n".join(lines)
