"""A report directory: report.md with its PNG figures beside it, and the self-contained report.html."""
from __future__ import annotations

from pathlib import Path

from ..util.files import write_bytes, write_together
from .html import render_html
from .markdown import render_markdown
from .plots import all_figures
from .results import Comparison


def write_report(comparison: Comparison, directory: Path, curve_columns: tuple[str, ...]) -> tuple[Path, Path]:
    """Write report.md, its figures and report.html into `directory`, all or none (an old report is never half
    replaced); return the two report paths."""
    directory = Path(directory)
    figures = all_figures(comparison, curve_columns)
    names = {stem: f"{stem}.png" for stem in figures}
    md, page = directory / "report.md", directory / "report.html"
    files = {directory / names[stem]: (lambda tmp, png=png: write_bytes(tmp, png)) for stem, png in figures.items()}
    files[md] = lambda tmp: write_bytes(tmp, render_markdown(comparison, names).encode())
    files[page] = lambda tmp: write_bytes(tmp, render_html(comparison, figures).encode())
    write_together(files)
    return md, page
