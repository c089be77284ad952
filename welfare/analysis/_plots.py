"""Figures of analysis results: ``ax=None`` in, ``Axes`` out, never ``plt.show()``.

Colours are the Okabe–Ito colour-blind-safe palette; labels say "apparent"/"expressed" where a reader could take a
metric for an inner state. Each function reads a result frame of this package (fixed columns).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

from welfare.analysis._policy import ENDING_POLICIES
from welfare.analysis._results import AnalysisInputError, require_columns

__all__ = ["OKABE_ITO", "PALETTE", "arm_colors", "event_study_plot", "forest_plot", "policy_audit_plot",
           "survival_plot"]

#: Okabe & Ito (2008) colour-blind-safe palette (black last).
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: Okabe & Ito (2008), "Color Universal Design", in the order arms take the colours (:func:`arm_colors`).
OKABE_ITO: tuple[str, ...] = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")


def arm_colors(arms: Any) -> dict[str, str]:
    """A stable colour per arm: arms sorted by name take the Okabe–Ito colours in order (cycled).

    Every per-arm figure uses it, so an arm has one colour in all of a report's figures; pass the same
    mapping (``colors=arm_colors(all_arms)``) when a figure shows only some of the arms.
    """
    names = sorted({str(a) for a in arms})
    return {a: OKABE_ITO[i % len(OKABE_ITO)] for i, a in enumerate(names)}


def _arm_of(label: str, arms: Sequence[str] = ()) -> str:
    """The arm a label names: an arm itself; a difference ``tool - control`` between two of ``arms`` -> ``tool``;
    a group label ``column=value`` (policy audit, survival) -> ``value``; else the label."""
    if label in arms:
        return label
    for arm in arms:
        if label.startswith(arm + " - ") and label[len(arm) + 3:] in arms:
            return arm
    _column, sep, value = label.partition("=")
    return value if sep else label


def _colour_map(labels: Sequence[str], colors: Mapping[str, str] | None, arms: Sequence[str] = ()) -> dict[str, str]:
    """Colour of each label: ``colors`` looked up by the label or by the arm it names; labels it does not cover
    take :func:`arm_colors` order among the Okabe–Ito colours ``colors`` leaves unused (so no two groups share a
    colour while colours remain)."""
    given = dict(colors or {})
    named = {lb: _arm_of(lb, arms) for lb in labels}
    out = {lb: given[lb] if lb in given else given[arm] for lb, arm in named.items() if lb in given or arm in given}
    rest = sorted({named[lb] for lb in labels if lb not in out} | {a for a in arms if a not in given})
    used = {c.lower() for c in given.values()}
    free = [c for c in OKABE_ITO if c.lower() not in used] or list(OKABE_ITO)
    fallback = {a: free[i % len(free)] for i, a in enumerate(rest)}
    return {lb: out.get(lb, fallback.get(named[lb], OKABE_ITO[0])) for lb in labels}


_LABELS = {"distress": "apparent distress", "distress_mean": "mean apparent distress",
           "distress_burden": "apparent distress burden", "distress_peak": "peak apparent distress",
           "negative_affect": "expressed negative affect", "refusal_rate": "expressed refusal rate",
           "refusal_score": "expressed reluctance"}
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _intervals(ax: Axes, est: np.ndarray, y: np.ndarray, low: np.ndarray, high: np.ndarray, *, fmt: str, colour: str,
               label: str | None = None) -> None:
    """Estimates with their interval bars. A percentile bootstrap interval can exclude its estimate; such a row
    gets its interval drawn as it is and the estimate beside it, where error bars measured from the estimate
    cannot be drawn."""
    err = np.vstack([est - low, high - est])
    err = np.where(np.isfinite(err), err, 0)
    outside = (err < 0).any(axis=0)
    if not outside.all():
        ax.errorbar(est[~outside], y[~outside], xerr=err[:, ~outside], fmt=fmt, color=colour, ecolor=colour, capsize=3,
                    markersize=4, label=label)
        label = None
    if outside.any():
        ax.errorbar((low[outside] + high[outside]) / 2, y[outside], xerr=(high[outside] - low[outside]) / 2,
                    fmt="none", ecolor=colour, capsize=3)
        ax.plot(est[outside], y[outside], fmt, color=colour, markersize=4, label=label)


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt  # lazily: importing the analysis package needs no plotting

        _, ax = plt.subplots()
    return ax


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " "))


def _row_names(rows: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [" · ".join(_label(str(row[c])) if c == "outcome" else str(row[c]) for c in columns)
            for _, row in rows.iterrows()]


def _figure_width(fig: Any) -> float:
    """Width in inches of the root figure of a Figure or SubFigure."""
    return float(fig.get_figure(root=True).get_figwidth())


def _points(size: str | float) -> float:
    """Type size in points of a size in points or a name such as "small"."""
    from matplotlib.font_manager import FontProperties

    return float(FontProperties(size=size).get_size_in_points())


def _chars(width_in: float, size: str | float) -> int:
    """About how many characters of type ``size`` fit ``width_in`` inches (at least 8)."""
    return max(8, int(width_in * 72 / (0.55 * _points(size))))


def _wrap(text: str, width_in: float) -> str:
    """``text`` in lines that fit ``width_in`` inches at the small type size (wrapped here, not at draw time,
    so tight bounding boxes see the lines)."""
    return textwrap.fill(text, width=_chars(width_in, "small"))


def _drop_missing(results: pd.DataFrame, label: Sequence[str]) -> tuple[pd.DataFrame, str | None]:
    """The rows with an estimate, and a note naming the rows without one (``None`` when every row has one)."""
    missing = ~np.isfinite(results["estimate"].to_numpy(dtype=float))
    if not missing.any():
        return results, None
    rest = [c for c in label if c != "outcome"]
    parts = []
    if "outcome" in results.columns:
        for outcome in dict.fromkeys(results.loc[missing, "outcome"]):
            rows = (results["outcome"] == outcome).to_numpy()
            if not (rows & ~missing).any() or not rest:
                parts.append(f"{_label(str(outcome))} (all rows)" if rest else _label(str(outcome)))
            else:
                parts.append(f"{_label(str(outcome))} ({', '.join(_row_names(results[rows & missing], rest))})")
    else:
        parts = _row_names(results[missing], label)
    return results[~missing], "Not shown, no estimate: " + "; ".join(parts) + "."


@overload
def forest_plot(
    results: pd.DataFrame,
    ax: Axes | None = None,
    *,
    label: Sequence[str] = ...,
    null: float | None = ...,
    log_scale: bool = ...,
    facet: None = None,
    ncols: int | None = None,
    fig: None = None,
) -> Axes: ...


@overload
def forest_plot(
    results: pd.DataFrame,
    ax: None = None,
    *,
    label: Sequence[str] = ...,
    null: float | None = ...,
    log_scale: bool = ...,
    facet: str | Mapping[str, str],
    ncols: int | None = None,
    fig: Figure | SubFigure | None = None,
) -> npt.NDArray[np.object_]: ...


def forest_plot(
    results: pd.DataFrame,
    ax: Axes | None = None,
    *,
    label: Sequence[str] = ("outcome", "contrast"),
    null: float | None = 0.0,
    log_scale: bool = False,
    facet: str | Mapping[str, str] | None = None,
    ncols: int | None = None,
    fig: Figure | SubFigure | None = None,
) -> Axes | npt.NDArray[np.object_]:
    """Point estimates with their intervals, one row per result (top to bottom in frame order).

    ``null`` draws the no-effect line (0 for differences, 1 for ratios; ``None`` for none); ``log_scale`` suits
    ratios (hazard, odds, risk).

    Rows without an estimate (NaN, e.g. an outcome undefined in the control arm) are not drawn; a note under the
    plot names them, so nothing is dropped silently.

    Single panel (``facet=None``): draws on ``ax`` (a new one when ``None``) and returns it.

    Faceted: one panel per outcome, each with its own x axis, so outcomes on different scales (a per-turn mean,
    a per-conversation total, a streak length) stay readable. The panels share the row labels (the ``label``
    columns other than ``outcome``, e.g. the contrast). ``facet="outcome"`` gives one panel per outcome;
    a mapping ``{outcome: group title}`` puts the outcomes of one declared scale group in one panel (offset
    within each row, one Okabe–Ito colour and marker per outcome, with a legend); outcomes it does not name get
    a panel of their own. Panel titles are the group titles and outcome labels; where a group title is also an
    outcome panel's title (or two outcomes share a label), those panels add ``(group)`` or the outcome's column
    name, so no two panels carry the same title. Panels run left to right in frame order, ``ncols`` per row (all
    in one row by default), on ``fig`` (a Figure or SubFigure; a new Figure when ``None``; ``ax`` must then be ``None``). Returns a 1-D
    array of the panels' Axes in that order; the figure is ``axes[0].figure``, the note under the panels is in
    its ``texts`` (saved in full with ``bbox_inches="tight"``, the welfare style's default).
    """
    require_columns(results, ["estimate", "ci_low", "ci_high", *label], argument="results")
    if facet is None:
        return _forest_panel(results, ax, label=label, null=null, log_scale=log_scale)
    if ax is not None:
        raise AnalysisInputError("a faceted forest plot draws its own panels: pass fig= (a Figure or SubFigure), "
                                 "not ax=")
    return _forest_facets(results, fig, label=label, null=null, log_scale=log_scale, facet=facet, ncols=ncols)


def _forest_panel(results: pd.DataFrame, ax: Axes | None, *, label: Sequence[str], null: float | None,
                  log_scale: bool) -> Axes:
    ax = _axes(ax)
    results, note = _drop_missing(results, label)
    y = np.arange(len(results))[::-1]
    est = results["estimate"].to_numpy(dtype=float)
    low, high = results["ci_low"].to_numpy(dtype=float), results["ci_high"].to_numpy(dtype=float)
    _intervals(ax, est, y, low, high, fmt="o", colour=PALETTE[0])
    if null is not None:
        ax.axvline(null, color=PALETTE[-1], linewidth=0.8, linestyle="--")
    ax.set_yticks(y, _row_names(results, label))
    if log_scale:
        ax.set_xscale("log")
    ax.set_xlabel("estimate (interval)")
    if note is not None:
        # Under the x-axis label, from the left edge of the figure and no wider than it (so the layout keeps
        # the axes' width).
        ax.annotate(_wrap(note, _figure_width(ax.figure)), xy=(0, 0),
                    xycoords=(ax.figure.transSubfigure, ax.xaxis.label), xytext=(0, -3), textcoords="offset points",
                    ha="left", va="top", fontsize="small")
    return ax


def _panel_titles(panels: Sequence[tuple[bool, str]]) -> list[str]:
    """One title per facet panel, no two alike: a group's title, or an outcome's label. Where a group is titled
    like an outcome's label (or two outcomes share a label), those panels say which they are: ``(group)``, or the
    outcome's column name (``(outcome)`` when that is the label itself); a title still shared gets a number."""
    base = [title if is_group else _label(title) for is_group, title in panels]
    shared = {t for t in base if base.count(t) > 1}
    titles = [t if t not in shared else f"{t} (group)" if is_group else f"{t} ({name if name != t else 'outcome'})"
              for t, (is_group, name) in zip(base, panels, strict=True)]
    repeated = {t for t in titles if titles.count(t) > 1}
    seen: dict[str, int] = {}
    for k, t in enumerate(titles):
        if t in repeated:
            seen[t] = seen.get(t, 0) + 1
            titles[k] = f"{t} [{seen[t]}]"
    return titles


def _forest_facets(results: pd.DataFrame, fig: Figure | SubFigure | None, *, label: Sequence[str],
                   null: float | None, log_scale: bool, facet: str | Mapping[str, str],
                   ncols: int | None) -> npt.NDArray[np.object_]:
    if isinstance(facet, str):
        if facet != "outcome":
            raise AnalysisInputError(f"facet={facet!r}: use 'outcome' (one panel per outcome) or a mapping "
                                     "{outcome: scale group title}")
        groups: dict[str, str] = {}
    elif isinstance(facet, Mapping):
        groups = {str(k): str(v) for k, v in facet.items()}
    else:
        raise AnalysisInputError(f"facet must be 'outcome' or a mapping {{outcome: group title}}, "
                                 f"got {type(facet).__name__}")
    require_columns(results, ["outcome"], argument="results")
    if ncols is not None and ncols < 1:
        raise AnalysisInputError(f"ncols must be at least 1, got {ncols}")
    shown, note = _drop_missing(results, label)
    if shown.empty:
        raise AnalysisInputError("no row of results has an estimate to plot. " + (note or ""))
    rest = [c for c in label if c != "outcome"]
    keys = [tuple(str(row[c]) for c in rest) for _, row in shown.iterrows()]
    outcomes = [str(o) for o in shown["outcome"]]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for outcome, key in zip(outcomes, keys, strict=True):
        if (outcome, key) in seen:
            raise AnalysisInputError(f"more than one row for outcome {outcome!r} and {' · '.join(key) or 'no label'}"
                                     ": add the column that tells them apart to label=")
        seen.add((outcome, key))
    rows = list(dict.fromkeys(keys))
    ypos = {key: len(rows) - 1 - i for i, key in enumerate(rows)}
    # Panels in order of first appearance: a declared group, or an outcome of its own.
    panels: dict[tuple[bool, str], list[str]] = {}
    for outcome in dict.fromkeys(outcomes):
        panel = (True, groups[outcome]) if outcome in groups else (False, outcome)
        panels.setdefault(panel, []).append(outcome)
    n = len(panels)
    ncol = min(ncols or n, n)
    nrow = -(-n // ncol)
    import matplotlib as mpl
    from matplotlib.transforms import ScaledTranslation

    if fig is None:
        import matplotlib.pyplot as plt

        width, height = mpl.rcParams["figure.figsize"]
        fig = plt.figure(figsize=(max(width, 1.4 * ncol + 1.2), max(height, nrow * (0.3 * len(rows) + 1.0))))
    grid = fig.subplots(nrow, ncol, sharey=True, squeeze=False)
    # Titles wrap to the width a panel gets once the row labels have their share of the figure.
    labels_in = max(len(" · ".join(key)) for key in rows) * 0.55 * _points(mpl.rcParams["ytick.labelsize"]) / 72
    title_chars = _chars(max((_figure_width(fig) - labels_in) / ncol - 0.15, 0.5), mpl.rcParams["axes.titlesize"])
    flat = grid.ravel()
    for extra in flat[n:]:
        extra.remove()
    axes = flat[:n]
    titles = _panel_titles(list(panels))
    for ax, title, members in zip(axes, titles, panels.values(), strict=True):
        # The first outcome of a group on top, like the rows.
        offsets = np.linspace(0.18, -0.18, len(members)) if len(members) > 1 else np.zeros(1)
        for k, outcome in enumerate(members):
            part = shown[(shown["outcome"].astype(str) == outcome).to_numpy()]
            est = part["estimate"].to_numpy(dtype=float)
            y = np.array([ypos[tuple(str(row[c]) for c in rest)] for _, row in part.iterrows()], dtype=float)
            _intervals(ax, est, y + offsets[k], part["ci_low"].to_numpy(dtype=float),
                       part["ci_high"].to_numpy(dtype=float), fmt=_MARKERS[k % len(_MARKERS)],
                       colour=PALETTE[k % len(PALETTE)], label=_label(outcome))
        if null is not None:
            ax.axvline(null, color=PALETTE[-1], linewidth=0.8, linestyle="--")
        if log_scale:
            ax.set_xscale("log")
        else:
            ax.locator_params(axis="x", nbins=3)  # few ticks: panels are narrow
        ax.set_title(textwrap.fill(title, width=title_chars))
        if len(members) > 1:
            # Under the tick labels, so the legend never covers a point.
            below = ax.transAxes + ScaledTranslation(0, -16 / 72, ax.figure.dpi_scale_trans)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, ncols=1)
    first = axes[0]
    first.set_yticks([ypos[key] for key in rows], [" · ".join(key) for key in rows])
    first.set_ylim(-0.5, len(rows) - 0.5)
    fig.supxlabel("estimate (interval)", fontsize=mpl.rcParams["axes.labelsize"])
    if note is not None:
        fig.text(0, 0, _wrap(note, _figure_width(fig)), ha="left", va="top", fontsize="small")
    return np.asarray(axes, dtype=object)


def event_study_plot(results: pd.DataFrame, ax: Axes | None = None, *, differences: bool = False,
                     colors: Mapping[str, str] | None = None) -> Axes:
    """Mean trajectory per arm around the anchor (turn 0) with its bootstrap band; ``differences=True`` plots the
    treatment - control rows instead, each in its treatment arm's colour. ``colors`` maps arms to colours
    (default :func:`arm_colors` of the arms in ``results``)."""
    require_columns(results, ["arm", "turn", "contrast", "estimate", "ci_low", "ci_high"], argument="results")
    ax = _axes(ax)
    rows = results[results["contrast"] != "mean"] if differences else results[results["contrast"] == "mean"]
    if rows.empty:
        raise AnalysisInputError("no rows to plot: event_study results without " +
                                 ("difference rows (pass arm= to event_study)" if differences else "mean rows"))
    arms = [str(a) for a in results.loc[results["contrast"] == "mean", "arm"].unique()]
    palette = _colour_map([str(a) for a in rows["arm"].unique()], colors, arms=arms)
    for arm, grp in rows.groupby("arm", sort=False):
        grp = grp.sort_values("turn")
        colour = palette[str(arm)]
        ax.plot(grp["turn"], grp["estimate"], marker="o", markersize=3, color=colour, label=str(arm))
        ax.fill_between(grp["turn"], grp["ci_low"], grp["ci_high"], color=colour, alpha=0.2, linewidth=0)
    ax.axvline(0, color=PALETTE[-1], linewidth=0.8, linestyle="--")
    if differences:
        ax.axhline(0, color=PALETTE[-1], linewidth=0.8)
    ax.set_xlabel("turns relative to the anchor")
    metric = _label(str(rows["outcome"].iloc[0]))
    ax.set_ylabel(f"difference in {metric}" if differences else metric)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    return ax


def survival_plot(results: pd.DataFrame, ax: Axes | None = None, *, bands: bool = True,
                  colors: Mapping[str, str] | None = None) -> Axes:
    """Kaplan–Meier step curves per group (from :func:`kaplan_meier`), starting at S(0) = 1, with pointwise bands.
    ``colors`` maps arms (or group labels) to colours (default :func:`arm_colors` of the groups' arms)."""
    require_columns(results, ["group", "time", "estimate", "ci_low", "ci_high"], argument="results")
    ax = _axes(ax)
    palette = _colour_map([str(g) for g in results["group"].unique()], colors)
    for group, grp in results.groupby("group", sort=False):
        grp = grp.sort_values("time")
        colour = palette[str(group)]
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
    if ax.get_legend_handles_labels()[0]:  # no labelled group (e.g. no arms): no empty legend
        ax.legend(frameon=False)
    return ax


def policy_audit_plot(results: pd.DataFrame, ax: Axes | None = None, *,
                      colors: Mapping[str, str] | None = None) -> Axes:
    """Grouped bars of ending-policy shares per group (from :func:`policy_audit`) with Wilson intervals.
    ``colors`` maps arms (or group labels) to colours (default :func:`arm_colors` of the groups' arms)."""
    require_columns(results, ["group", "category", "estimate", "ci_low", "ci_high"], argument="results")
    ax = _axes(ax)
    groups = list(dict.fromkeys(results["group"]))
    palette = _colour_map([str(g) for g in groups], colors)
    cats = [c for c in ENDING_POLICIES if c in set(results["category"])]
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(cats))
    for k, group in enumerate(groups):
        grp = results[results["group"] == group].set_index("category").reindex(cats)
        est = grp["estimate"].to_numpy(dtype=float)
        err = np.vstack([est - grp["ci_low"].to_numpy(dtype=float), grp["ci_high"].to_numpy(dtype=float) - est])
        ax.bar(x + (k - (len(groups) - 1) / 2) * width, est, width, yerr=np.clip(np.nan_to_num(err), 0, None), capsize=2,
               color=palette[str(group)], label=str(group))
    ax.set_xticks(x, [c.replace("_", " ") for c in cats])
    ax.set_ylabel("share of conversation branches")
    ax.set_ylim(0, 1)
    if ax.get_legend_handles_labels()[0]:  # no labelled group (e.g. no arms): no empty legend
        ax.legend(frameon=False)
    return ax
