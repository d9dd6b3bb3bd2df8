"""The comparison's figures as PNG bytes: accuracy against cost, and the training curves."""
from __future__ import annotations

import io

import numpy as np

from .results import Comparison

# x-axes of the accuracy-versus-cost plots: (file stem, axis label, value of a model summary)
COST_AXES = (
    ("accuracy_vs_params", "parameters (M)", lambda m: m.params_m),
    ("accuracy_vs_gmacs", "GMACs per image", lambda m: m.gmacs),
    ("accuracy_vs_throughput", "inference images/s", lambda m: m.images_per_s),
)


def _png(fig) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def accuracy_vs(comparison: Comparison, label: str, value) -> bytes:
    """Mean top-1 over seeds with its standard deviation as an error bar, one labelled point per model."""
    from matplotlib.figure import Figure  # here, not at import: commands that draw nothing start faster

    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for m in comparison.models:
        ax.errorbar(value(m), m.top1_mean, yerr=m.top1_std, fmt="o", capsize=4)
        ax.annotate(m.model, (value(m), m.top1_mean), textcoords="offset points", xytext=(6, 6), fontsize=8)
    xs = [value(m) for m in comparison.models if value(m) > 0]
    if xs and max(xs) > 10 * min(xs):  # costs spanning orders of magnitude read better on a log axis
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title(f"accuracy vs {label}")
    ax.grid(alpha=0.3)
    return _png(fig)


def training_curves(comparison: Comparison, columns: tuple[str, ...]) -> bytes:
    """One panel per logged column (e.g. validation accuracy, training loss): the mean over seeds, shaded min-max."""
    from matplotlib.figure import Figure

    columns = [c for c in columns if any(c in r.curve for m in comparison.models for r in m.runs)]
    fig = Figure(figsize=(5.5 * max(1, len(columns)), 4))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(columns))))
    for ax, column in zip(axes, columns):
        for m in comparison.models:
            curves = [r.curve[column] for r in m.runs if column in r.curve and r.curve[column]]
            if not curves:
                continue
            length = min(len(c) for c in curves)  # a run cut short still shows its common epochs
            values = np.array([c[:length] for c in curves])
            epochs = np.arange(1, length + 1)
            ax.plot(epochs, values.mean(0), marker="o", markersize=3, label=m.model)
            ax.fill_between(epochs, values.min(0), values.max(0), alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(column)
        ax.set_title(column)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def all_figures(comparison: Comparison, curve_columns: tuple[str, ...]) -> dict[str, bytes]:
    """File stem -> PNG bytes, in the order the reports show them."""
    figures = {stem: accuracy_vs(comparison, label, value) for stem, label, value in COST_AXES}
    figures["training_curves"] = training_curves(comparison, curve_columns)
    return figures
