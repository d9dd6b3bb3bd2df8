"""A report directory: report.md with its PNG figures beside it, and the self-contained report.html."""
from __future__ import annotations

from pathlib import Path

from .html import render_html
from .markdown import render_markdown
from .plots import all_figures
from .results import Comparison


def write_report(comparison: Comparison, directory: Path, curve_columns: tuple[str, ...]) -> tuple[Path, Path]:
    """Write report.md, its figures and report.html into `directory`; return the two report paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figures = all_figures(comparison, curve_columns)
    names = {stem: f"{stem}.png" for stem in figures}
    for stem, png in figures.items():
        (directory / names[stem]).write_bytes(png)
    md, page = directory / "report.md", directory / "report.html"
    md.write_text(render_markdown(comparison, names))
    page.write_text(render_html(comparison, figures))
    return md, page
