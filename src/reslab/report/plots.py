"""The comparison's figures as PNG bytes: accuracy against cost, top-1 error per epoch, and the training curves."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .results import Comparison, ModelSummary

# x-axes of the accuracy-versus-cost plots: (file stem, axis label, value of a model summary)
COST_AXES = (
    ("accuracy_vs_params", "parameters (M)", lambda m: m.params_m),
    ("accuracy_vs_gmacs", "GMACs per image", lambda m: m.gmacs),
    ("accuracy_vs_throughput", "inference images/s", lambda m: m.images_per_s),
)


def figure_png(fig) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def accuracy_vs(comparison: Comparison, label: str, value) -> bytes:
    """Mean top-1 over seeds with its standard deviation as an error bar, one labelled point per model."""
    from matplotlib.figure import Figure  # here, not at import: commands that draw nothing start faster

    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    ax.ticklabel_format(useOffset=False)  # 71.2 and 71.4 as such, not as 0.2 and 0.4 under '+7.1e1'
    xs, ys = [value(m) for m in comparison.models], [m.top1_mean for m in comparison.models]
    log = min(xs) > 0 and max(xs) > 10 * min(xs)  # costs spanning orders of magnitude read better on a log axis
    offsets = label_offsets(np.log10(xs) if log else np.array(xs), np.array(ys))
    for m, x, y, offset in zip(comparison.models, xs, ys, offsets):
        ax.errorbar(x, y, yerr=m.top1_std, fmt="o", capsize=4)  # one seed: a point, no bar
        ax.annotate(m.model, (x, y), textcoords="offset points", xytext=offset, fontsize=8)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title(f"accuracy vs {label}")
    ax.grid(alpha=0.3)
    return figure_png(fig)


def label_offsets(xs: np.ndarray, ys: np.ndarray, near: float = 0.08) -> list[tuple[int, int]]:
    """Where each point's name goes (points right of it, up or down): a point within `near` of the plot's width
    and height of earlier ones takes the next place in turn, below, further above, further below..., so the
    names of models of about the same cost and accuracy do not print over each other."""
    def spread(v):
        return (v - v.min()) / (np.ptp(v) or 1)

    fx, fy = spread(xs.astype(float)), spread(ys.astype(float))
    offsets = []
    for i in range(len(xs)):
        n = int(np.sum((np.abs(fx[:i] - fx[i]) < near) & (np.abs(fy[:i] - fy[i]) < near)))
        step = 12 * ((n + 1) // 2)
        offsets.append((6, 6 + step if n % 2 == 0 else -2 - step))
    return offsets


@dataclass(frozen=True)
class ErrorCurve:
    """One model's top-1 error (%) per epoch, the mean over its seeds; the validation error's min and max too."""

    model: str
    train: list[float]  # empty where the runs' logs have no train_acc (runs older than that column)
    val: list[float]
    val_min: list[float]
    val_max: list[float]
    seeds: int  # how many runs the validation mean is over


def _error_per_epoch(model: ModelSummary, column: str) -> np.ndarray:
    """Runs x epochs of 100 * (1 - accuracy) from a logged accuracy column (a fraction); epochs all runs have."""
    curves = [r.curve[column] for r in model.runs if r.curve.get(column)]
    if not curves:
        return np.zeros((0, 0))
    length = min(len(c) for c in curves)  # a run cut short still shows its common epochs
    return 100 * (1 - np.array([c[:length] for c in curves], dtype=float))


def error_curves(comparison: Comparison) -> list[ErrorCurve]:
    """What the error figure draws: per model, training error from train_acc and validation error from val_top1."""
    result = []
    for m in comparison.models:
        train, val = _error_per_epoch(m, "train_acc"), _error_per_epoch(m, "val_top1")
        (train_mean, _, _), (val_mean, val_min, val_max) = _mean_min_max(train), _mean_min_max(val)
        result.append(ErrorCurve(m.model, train_mean, val_mean, val_min, val_max, len(val)))
    return result


def _mean_min_max(errors: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """Per epoch over runs; three empty lists for no runs."""
    if not errors.size:
        return [], [], []
    return errors.mean(0).tolist(), errors.min(0).tolist(), errors.max(0).tolist()


ERROR_CURVES_NOTE = ("thin: training error over each epoch's batches, with augmentation; bold: validation error; "
                     "each the mean over seeds, the validation error shaded from its lowest to its highest seed")


def error_figure(comparison: Comparison) -> bytes:
    """Top-1 error against epochs as He et al. 2015 draw it (Fig. 6): training error thin, validation error bold,
    one colour per model."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for i, curve in enumerate(error_curves(comparison)):
        colour = f"C{i}"
        marker = "o" if len(curve.val) <= 20 else None  # a few epochs: show the points (one epoch is only a point)
        if curve.train:
            epochs = np.arange(1, len(curve.train) + 1)
            ax.plot(epochs, curve.train, color=colour, linewidth=0.9, marker=marker, markersize=2)
        if curve.val:
            epochs = np.arange(1, len(curve.val) + 1)
            label = curve.model if curve.train else f"{curve.model} (validation only: no train_acc logged)"
            ax.plot(epochs, curve.val, color=colour, linewidth=2.5, marker=marker, markersize=4, label=label)
            if curve.seeds > 1:
                ax.fill_between(epochs, curve.val_min, curve.val_max, color=colour, alpha=0.15, linewidth=0)
    ax.set_ylim(bottom=0)
    ax.ticklabel_format(useOffset=False)
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.set_title("training (thin) and validation (bold) error")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # runs without logged curves draw nothing to name
        ax.legend(fontsize=8)
    return figure_png(fig)


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
        ax.ticklabel_format(useOffset=False)  # losses of 2.301 and 2.303 as such
        ax.set_xlabel("epoch")
        ax.set_ylabel(column)
        ax.set_title(column)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return figure_png(fig)


def all_figures(comparison: Comparison, curve_columns: tuple[str, ...]) -> dict[str, bytes]:
    """File stem -> PNG bytes, in the order the reports show them."""
    figures = {stem: accuracy_vs(comparison, label, value) for stem, label, value in COST_AXES}
    figures["error_curves"] = error_figure(comparison)
    figures["training_curves"] = training_curves(comparison, curve_columns)
    return figures


THROUGHPUT_NOTE = ("images/s: inference, measured once per model on this machine after the training; a machine "
                   "busy with other work measures less, so compare the models within one report only")
# a sentence under a figure in both reports, saying how to read it
FIGURE_NOTES = {"error_curves": ERROR_CURVES_NOTE, "accuracy_vs_throughput": THROUGHPUT_NOTE}
