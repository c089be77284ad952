"""Figures of analysis results: ``ax=None`` in, ``Axes`` out, never ``plt.show()``.

Colours are the Okabe–Ito colour-blind-safe palette; labels say "apparent"/"expressed" where a reader could take a
metric for an inner state. Each function reads a result frame of this package (fixed columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from welfare.analysis._policy import ENDING_POLICIES
from welfare.analysis._results import AnalysisInputError, require_columns

__all__ = ["PALETTE", "event_study_plot", "forest_plot", "policy_audit_plot", "survival_plot"]

#: Okabe & Ito (2008) colour-blind-safe palette (black last).
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

_LABELS = {"distress": "apparent distress", "distress_mean": "mean apparent distress",
           "distress_burden": "apparent distress burden", "distress_peak": "peak apparent distress",
           "negative_affect": "expressed negative affect", "refusal_rate": "expressed refusal rate",
           "refusal_score": "expressed reluctance"}


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt  # lazily: importing the analysis package needs no plotting

        _, ax = plt.subplots()
    return ax


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " "))


def forest_plot(
    results: pd.DataFrame,
    ax: Axes | None = None,
    *,
    label: Sequence[str] = ("outcome", "contrast"),
    null: float | None = 0.0,
    log_scale: bool = False,
) -> Axes:
    """Point estimates with their intervals, one row per result (top to bottom in frame order).

    ``null`` draws the no-effect line (0 for differences, 1 for ratios; ``None`` for none); ``log_scale`` suits
    ratios (hazard, odds, risk).
    """
    require_columns(results, ["estimate", "ci_low", "ci_high", *label], argument="results")
    ax = _axes(ax)
    y = np.arange(len(results))[::-1]
    est = results["estimate"].to_numpy(dtype=float)
    low, high = results["ci_low"].to_numpy(dtype=float), results["ci_high"].to_numpy(dtype=float)
    err = np.vstack([est - low, high - est])
    ax.errorbar(est, y, xerr=np.where(np.isfinite(err), err, 0), fmt="o", color=PALETTE[0], ecolor=PALETTE[0],
                capsize=3, markersize=4)
    if null is not None:
        ax.axvline(null, color=PALETTE[-1], linewidth=0.8, linestyle="--")
    names = [" · ".join(_label(str(row[c])) if c == "outcome" else str(row[c]) for c in label)
             for _, row in results.iterrows()]
    ax.set_yticks(y, names)
    if log_scale:
        ax.set_xscale("log")
    ax.set_xlabel("estimate (interval)")
    return ax


def event_study_plot(results: pd.DataFrame, ax: Axes | None = None, *, differences: bool = False) -> Axes:
    """Mean trajectory per arm around the anchor (turn 0) with its bootstrap band; ``differences=True`` plots the
    treatment - control rows instead."""
    require_columns(results, ["arm", "turn", "contrast", "estimate", "ci_low", "ci_high"], argument="results")
    ax = _axes(ax)
    rows = results[results["contrast"] != "mean"] if differences else results[results["contrast"] == "mean"]
    if rows.empty:
        raise AnalysisInputError("no rows to plot: event_study results without " +
                                 ("difference rows (pass arm= to event_study)" if differences else "mean rows"))
    for k, (arm, grp) in enumerate(rows.groupby("arm", sort=False)):
        grp = grp.sort_values("turn")
        colour = PALETTE[k % len(PALETTE)]
        ax.plot(grp["turn"], grp["estimate"], marker="o", markersize=3, color=colour, label=str(arm))
        ax.fill_between(grp["turn"], grp["ci_low"], grp["ci_high"], color=colour, alpha=0.2, linewidth=0)
    ax.axvline(0, color=PALETTE[-1], linewidth=0.8, linestyle="--")
    if differences:
        ax.axhline(0, color=PALETTE[-1], linewidth=0.8)
    ax.set_xlabel("turns relative to the anchor")
    metric = _label(str(rows["outcome"].iloc[0]))
    ax.set_ylabel(f"difference in {metric}" if differences else metric)
    ax.legend(frameon=False)
    return ax


def survival_plot(results: pd.DataFrame, ax: Axes | None = None, *, bands: bool = True) -> Axes:
    """Kaplan–Meier step curves per group (from :func:`kaplan_meier`), starting at S(0) = 1, with pointwise bands."""
    require_columns(results, ["group", "time", "estimate", "ci_low", "ci_high"], argument="results")
    ax = _axes(ax)
    for k, (group, grp) in enumerate(results.groupby("group", sort=False)):
        grp = grp.sort_values("time")
        colour = PALETTE[k % len(PALETTE)]
        t = np.r_[0.0, grp["time"].to_numpy(dtype=float)]
        s = np.r_[1.0, grp["estimate"].to_numpy(dtype=float)]
        ax.step(t, s, where="post", color=colour, label=str(group))
        if bands:
            lo = np.r_[1.0, grp["ci_low"].to_numpy(dtype=float)]
            hi = np.r_[1.0, grp["ci_high"].to_numpy(dtype=float)]
            ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.2, linewidth=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("assistant turns")
    ax.set_ylabel("share without the event")
    ax.legend(frameon=False)
    return ax


def policy_audit_plot(results: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Grouped bars of ending-policy shares per group (from :func:`policy_audit`) with Wilson intervals."""
    require_columns(results, ["group", "category", "estimate", "ci_low", "ci_high"], argument="results")
    ax = _axes(ax)
    groups = list(dict.fromkeys(results["group"]))
    cats = [c for c in ENDING_POLICIES if c in set(results["category"])]
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(cats))
    for k, group in enumerate(groups):
        grp = results[results["group"] == group].set_index("category").reindex(cats)
        est = grp["estimate"].to_numpy(dtype=float)
        err = np.vstack([est - grp["ci_low"].to_numpy(dtype=float), grp["ci_high"].to_numpy(dtype=float) - est])
        ax.bar(x + (k - (len(groups) - 1) / 2) * width, est, width, yerr=np.clip(np.nan_to_num(err), 0, None), capsize=2,
               color=PALETTE[k % len(PALETTE)], label=str(group))
    ax.set_xticks(x, [c.replace("_", " ") for c in cats])
    ax.set_ylabel("share of conversation branches")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False)
    return ax
