"""Comparison reports: the measured results, their figures, and the Markdown and HTML pages that show them."""
from .html import render_html
from .markdown import render_markdown
from .plots import ErrorCurve, all_figures, error_curves
from .results import Comparison, ModelSummary, RunRecord
from .writer import write_report

__all__ = ["Comparison", "ErrorCurve", "ModelSummary", "RunRecord", "all_figures", "error_curves", "render_html",
           "render_markdown", "write_report"]
