"""Paper-ready figures of the score tables: ``ax=None`` in, ``Axes`` out, never ``plt.show()``.

The shipped style (``welfare/styles/welfare.mplstyle``) uses the Okabe–Ito colour-blind-safe
palette, TrueType fonts in vector output and type sizes readable at journal column width::

    import welfare.plots as wp
    with wp.style():
        fig, ax = plt.subplots(figsize=wp.figure_size("single"))
        wp.distress_trajectory(scores.messages, ax=ax)

Every function reads the tables of :func:`welfare.score` (columns documented in
docs/architecture.md) and labels what it shows as *apparent* or *expressed*: the metrics measure
text, not inner states. Figures of analysis results (forest plots, Kaplan–Meier curves, event
studies, policy audits) live in :mod:`welfare.analysis` and are re-exported here under the same names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

# Figures of analysis results are owned by welfare.analysis; re-exported here so one module has every figure.
from welfare.analysis import event_study_plot, forest_plot, policy_audit_plot, survival_plot
from welfare.analysis._plots import OKABE_ITO, arm_colors

__all__ = [
    "OKABE_ITO",
    "STYLE_PATH",
    "PlotInputError",
    "arm_colors",
    "distress_trajectory",
    "ending_methods",
    "event_study_plot",
    "figure_size",
    "forest_plot",
    "metric_distribution",
    "policy_audit_plot",
    "refusal_shares",
    "save_figure",
    "style",
    "survival_plot",
    "use_style",
]

#: The shipped style sheet.
STYLE_PATH: Path = Path(__file__).resolve().parent / "styles" / "welfare.mplstyle"


#: Column widths in inches of a typical two-column paper (single column, full page width).
_WIDTHS: dict[str, float] = {"single": 3.5, "double": 7.2}

#: Labels that say what the numbers are: expressed text, not inner states.
_LABELS: dict[str, str] = {
    "distress": "apparent distress",
    "negative_affect": "expressed negative affect",
    "hostility": "user hostility",
    "refusal_score": "expressed reluctance (refusal score)",
    "distress_mean": "mean apparent distress",
    "distress_peak": "peak apparent distress",
    "distress_burden": "apparent distress burden",
}

#: Refusal classes in display order.
_REFUSAL_CLASSES: tuple[str, ...] = ("compliance", "partial", "full")


class PlotInputError(ValueError):
    """A figure function was given a table without the columns (or values) it needs."""


def use_style() -> None:
    """Apply the shipped style to every later figure (``matplotlib.style.use``)."""
    plt.style.use(STYLE_PATH)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager: the shipped style inside the block, the previous settings after it."""
    with plt.style.context(STYLE_PATH):
        yield


def figure_size(width: Literal["single", "double"] = "single", aspect: float = 0.75) -> tuple[float, float]:
    """(width, height) in inches for a figure one column or the full page wide.

    Parameters
    ----------
    width
        ``"single"`` (3.5 in, one column of a two-column paper) or ``"double"`` (7.2 in).
    aspect
        Height divided by width; must be positive.

    Examples
    --------
    >>> figure_size("double", aspect=0.5)
    (7.2, 3.6)
    """
    if width not in _WIDTHS:
        raise PlotInputError(f"figure_size: width must be one of {sorted(_WIDTHS)}, got {width!r}")
    if not (isinstance(aspect, int | float) and np.isfinite(aspect) and aspect > 0):
        raise PlotInputError(f"figure_size: aspect must be a positive number, got {aspect!r}")
    w = _WIDTHS[width]
    return (w, w * float(aspect))


def save_figure(fig: Any, path: str | Path, formats: Sequence[str] = ("pdf", "png")) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; files are byte-stable across runs.

    Creation dates and software stamps are left out of the file metadata so a rerun on the same
    data gives the same bytes. Returns the written paths.
    """
    base = Path(path)
    if base.suffix.lstrip(".") in formats:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = base.with_name(base.name + "." + fmt)
        metadata: dict[str, Any] = {}
        if fmt == "pdf":
            metadata = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        elif fmt == "png":
            metadata = {"Software": None}
        elif fmt == "svg":
            metadata = {"Date": None, "Creator": None}
        fig.savefig(target, format=fmt, metadata=metadata)
        written.append(target)
    return written


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots()
    return new


def _need(table: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise PlotInputError(f"{where}: expected a pandas DataFrame (a table from welfare.score), "
                             f"got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PlotInputError(f"{where}: the table lacks column(s) {missing}; it has {list(table.columns)}. "
                             "Pass the matching table of welfare.score(...) (.messages or .conversations).")


def _label(column: str) -> str:
    return _LABELS.get(column, column.replace("_", " "))


def _arms(table: pd.DataFrame, arm: str) -> list[str]:
    return sorted(table[arm].dropna().astype(str).unique())


def _empty(ax: Axes, what: str) -> Axes:
    ax.text(0.5, 0.5, f"no data: {what}", ha="center", va="center", transform=ax.transAxes)
    return ax


def distress_trajectory(
    messages: pd.DataFrame,
    *,
    metric: str = "distress",
    arm: str = "condition",
    role: str = "assistant",
    by: Literal["turn", "message_index"] = "turn",
    max_turn: int | None = 20,
    active_only: bool = True,
    confidence: float = 0.95,
    ax: Axes | None = None,
) -> Axes:
    """Mean of a message metric by turn, one line per arm, with a normal-approximation band.

    Parameters
    ----------
    messages
        The message table of :func:`welfare.score`.
    metric
        A numeric message metric column (default ``distress``: apparent distress).
    arm
        Column naming the study arm.
    role
        Rows of this role are plotted (``None`` for all roles).
    by
        ``"turn"`` counts this role's turns (1, 2, ...); ``"message_index"`` uses the position in the branch.
    max_turn
        Turns after this are left out (sparse tails are noise); ``None`` keeps all.
    active_only
        Only the active branch of each conversation (the one the user saw last).
    confidence
        Coverage of the band: mean ± z·SE per turn (no band where a turn has one row).
    ax
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    The Axes. Turns with no rows are absent; an empty table gives an Axes saying so.
    """
    _need(messages, ["conversation_id", "branch_id", "message_index", "role", metric, arm], "distress_trajectory")
    if not 0 < confidence < 1:
        raise PlotInputError(f"distress_trajectory: confidence must lie in (0, 1), got {confidence!r}")
    ax = _axes(ax)
    data = messages
    if active_only and "is_active_branch" in data.columns:
        data = data[data["is_active_branch"].astype(bool)]
    if role is not None:
        data = data[data["role"] == role]
    data = data.sort_values(["conversation_id", "branch_id", "message_index"], kind="stable")
    if by == "turn":
        x = data.groupby(["conversation_id", "branch_id"], sort=False).cumcount() + 1
    elif by == "message_index":
        x = data["message_index"]
    else:
        raise PlotInputError(f"distress_trajectory: by must be 'turn' or 'message_index', got {by!r}")
    frame = pd.DataFrame({"x": np.asarray(x), "y": pd.to_numeric(data[metric], errors="coerce").to_numpy(),
                          "arm": data[arm].astype(str).to_numpy()})
    frame = frame[frame["y"].notna() & data[arm].notna().to_numpy()]
    if max_turn is not None:
        frame = frame[frame["x"] <= max_turn]
    if frame.empty:
        return _empty(ax, metric)
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + confidence / 2))
    colors = arm_colors(frame["arm"])
    for name, group in frame.groupby("arm", sort=True):
        agg = group.groupby("x")["y"].agg(["mean", "std", "count"])
        se = agg["std"] / np.sqrt(agg["count"])
        ax.plot(agg.index, agg["mean"], marker="o", label=str(name), color=colors[str(name)])
        ok = agg["count"] > 1
        ax.fill_between(agg.index[ok], (agg["mean"] - z * se)[ok], (agg["mean"] + z * se)[ok],
                        color=colors[str(name)], alpha=0.2, linewidth=0)
    ax.set_xlabel(f"{role} turn" if by == "turn" and role else "message index")
    ax.set_ylabel(f"{_label(metric)} (mean)")
    ax.legend(title=arm)
    return ax


def metric_distribution(
    table: pd.DataFrame,
    metric: str,
    *,
    arm: str = "condition",
    kind: Literal["box", "violin", "strip"] = "box",
    ax: Axes | None = None,
) -> Axes:
    """Distribution of a numeric metric by arm (message or conversation table).

    ``kind="box"`` draws box plots with the mean as a point; ``"violin"`` kernel densities;
    ``"strip"`` every value, jittered by a fixed seed so the figure is the same on every run.
    Rows with a missing metric or arm are left out.
    """
    _need(table, [metric, arm], "metric_distribution")
    ax = _axes(ax)
    values = pd.to_numeric(table[metric], errors="coerce")
    keep = values.notna() & table[arm].notna()
    arms = _arms(table[keep], arm)
    if not arms:
        return _empty(ax, metric)
    groups = [values[keep & (table[arm].astype(str) == a)].to_numpy(dtype=float) for a in arms]
    colors = arm_colors(arms)
    positions = np.arange(1, len(arms) + 1)
    if kind == "box":
        parts = ax.boxplot(groups, positions=positions, widths=0.6, patch_artist=True, showfliers=True)
        for patch, a in zip(parts["boxes"], arms, strict=True):
            patch.set_facecolor(colors[a])
            patch.set_alpha(0.6)
        ax.plot(positions, [g.mean() for g in groups], "D", color="black", markersize=3, label="mean")
    elif kind == "violin":
        parts = ax.violinplot(groups, positions=positions, showmeans=True)
        bodies: Any = parts["bodies"]
        for body, a in zip(bodies, arms, strict=True):
            body.set_facecolor(colors[a])
    elif kind == "strip":
        rng = np.random.default_rng(0)
        for p, g, a in zip(positions, groups, arms, strict=True):
            ax.plot(p + rng.uniform(-0.2, 0.2, size=len(g)), g, "o", color=colors[a], alpha=0.5, markersize=2)
    else:
        raise PlotInputError(f"metric_distribution: kind must be 'box', 'violin' or 'strip', got {kind!r}")
    ax.set_xticks(positions, arms, rotation=20, ha="right")
    ax.set_xlabel(arm)
    ax.set_ylabel(_label(metric))
    return ax


def _stacked_shares(ax: Axes, counts: pd.DataFrame, ylabel: str, legend_title: str) -> Axes:
    shares = counts.div(counts.sum(axis=1), axis=0)
    bottom = np.zeros(len(shares))
    x = np.arange(len(shares))
    for i, col in enumerate(shares.columns):
        ax.bar(x, shares[col].to_numpy(), bottom=bottom, label=str(col), color=OKABE_ITO[i % len(OKABE_ITO)],
               width=0.7)
        bottom += shares[col].to_numpy()
    ax.set_xticks(x, [str(i) for i in shares.index], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.legend(title=legend_title, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def refusal_shares(messages: pd.DataFrame, *, arm: str = "condition", ax: Axes | None = None) -> Axes:
    """Share of assistant messages per refusal class (compliance, partial, full), stacked, by arm.

    Rows with no refusal class (non-assistant rows) are left out. Active branches only when the
    table has ``is_active_branch``.
    """
    _need(messages, ["refusal", arm], "refusal_shares")
    ax = _axes(ax)
    data = messages
    if "is_active_branch" in data.columns:
        data = data[data["is_active_branch"].astype(bool)]
    data = data[data["refusal"].notna() & data[arm].notna()]
    if data.empty:
        return _empty(ax, "refusal")
    counts = pd.crosstab(data[arm].astype(str), data["refusal"].astype(str))
    order = [c for c in _REFUSAL_CLASSES if c in counts.columns] + sorted(
        c for c in counts.columns if c not in _REFUSAL_CLASSES)
    _stacked_shares(ax, counts[order], "share of assistant messages", "expressed refusal")
    ax.set_xlabel(arm)
    return ax


def ending_methods(conversations: pd.DataFrame, *, arm: str = "condition", ax: Axes | None = None,
                   include_not_ended: bool = False) -> Axes:
    """Number of conversations ended per arm, by who ended them and how (grouped bars).

    Categories are ``ended_by/ending_method`` (e.g. ``assistant/tool_call``); conversations that
    did not end are left out unless ``include_not_ended``. Active branches only when known.
    """
    _need(conversations, ["ended_by", "ending_method", arm], "ending_methods")
    ax = _axes(ax)
    data = conversations
    if "is_active_branch" in data.columns:
        data = data[data["is_active_branch"].astype(bool)]
    if not include_not_ended:
        data = data[data["ended_by"].astype(str) != "none"]
    data = data[data[arm].notna()]
    if data.empty:
        return _empty(ax, "endings")
    how = data["ended_by"].astype(str) + "/" + data["ending_method"].astype(str)
    counts = pd.crosstab(data[arm].astype(str), how)
    arms = list(counts.index)
    cats = list(counts.columns)
    width = 0.8 / max(len(cats), 1)
    x = np.arange(len(arms))
    for i, cat in enumerate(cats):
        ax.bar(x + (i - (len(cats) - 1) / 2) * width, counts[cat].to_numpy(), width=width, label=cat,
               color=OKABE_ITO[i % len(OKABE_ITO)])
    ax.set_xticks(x, arms, rotation=20, ha="right")
    ax.set_xlabel(arm)
    ax.set_ylabel("conversations ended")
    ax.legend(title="ended by / method", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax
