"""Validation figures: confusion matrix and reliability (calibration) plot. ``ax=None`` in, ``Axes`` out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from welfare.validation._stats import ValidationInputError, calibration_table, confusion_matrix

__all__ = ["plot_calibration", "plot_confusion"]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(4, 3.5))
    return new


def plot_confusion(y_true: Sequence[Any] | np.ndarray | pd.Series, y_pred: Sequence[Any] | np.ndarray | pd.Series, *,
                   labels: Sequence[Any] | None = None, normalize: Literal["true", "none"] = "none",
                   title: str | None = None, ax: Axes | None = None) -> Axes:
    """Confusion matrix as a heat map with counts (or row shares, ``normalize="true"``) written in each cell.

    Rows are human labels, columns are the metric's labels. Returns the Axes.
    """
    if normalize not in ("true", "none"):
        raise ValidationInputError(f"normalize must be 'true' (row shares) or 'none' (counts), got {normalize!r}")
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    counts = cm.to_numpy().astype(float)
    shown = counts
    if normalize == "true":
        with np.errstate(invalid="ignore", divide="ignore"):
            shown = counts / counts.sum(axis=1, keepdims=True)
    ax = _axes(ax)
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=np.nanmax(shown) if np.isfinite(shown).any() and shown.size else 1)
    k = len(cm.index)
    ax.set_xticks(range(k), [str(c) for c in cm.columns], rotation=30, ha="right")
    ax.set_yticks(range(k), [str(c) for c in cm.index])
    ax.set_xlabel("metric")
    ax.set_ylabel("human label")
    top = np.nanmax(shown) if shown.size and np.isfinite(shown).any() else 1.0
    for i in range(k):
        for j in range(k):
            value = shown[i, j]
            text = "–" if not np.isfinite(value) else (f"{value:.2f}" if normalize == "true" else f"{int(value)}")
            ax.text(j, i, text, ha="center", va="center", color="white" if value > top / 2 else "black", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_calibration(y_true: Sequence[Any] | np.ndarray | pd.Series, prob: Sequence[float] | np.ndarray | pd.Series, *,
                     bins: int = 10, positive: Any = None, label: str | None = None,
                     ax: Axes | None = None) -> Axes:
    """Reliability plot: observed positive rate (Wilson 95% bars) against the mean score per bin, with the diagonal.

    A score is calibrated when the points lie on the diagonal; most metrics in this toolkit are
    ranking scores, not probabilities, and are not expected to be.
    """
    table = calibration_table(y_true, prob, bins=bins, positive=positive)
    used = table[table["n"] > 0]
    ax = _axes(ax)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    yerr = np.vstack([used["observed"] - used["ci_low"], used["ci_high"] - used["observed"]])
    ax.errorbar(used["mean_score"], used["observed"], yerr=yerr, marker="o", capsize=2, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean score in bin")
    ax.set_ylabel("observed share positive")
    if label:
        ax.legend(loc="upper left")
    return ax
