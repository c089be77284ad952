"""Power analysis by simulation: how many users per arm a study needs to detect an effect.

Each replicate simulates fresh users for a control and a treatment arm (users randomised to
arms, several conversations each), computes a per-conversation outcome from the ground truth,
and tests the arm difference with a cluster-aware estimator (users are the clusters). Power is
the share of replicates that reject at ``alpha``, with a Wilson interval for simulation error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from welfare.simulate._config import SimulationConfig, SimulationConfigError
from welfare.simulate._engine import _user_conversations
from welfare.simulate._grammar import load_grammar
from welfare.transcript import Transcript

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["POWER_OUTCOMES", "PowerInputError", "conversation_outcomes", "plot_power_curve", "power"]

#: Per-conversation outcomes computed from the ground truth of the active branch.
POWER_OUTCOMES: tuple[str, ...] = ("distress_mean", "distress_peak", "distress_burden", "ended")
POWER_COLUMNS: tuple[str, ...] = ("n", "power", "ci_low", "ci_high", "n_sims", "n_rejected", "mean_estimate",
                                  "outcome", "effect", "alpha", "method")
_METHOD = "welfare.analysis.compare_arms(method='ols', cluster='user_id'): CR1 cluster-robust SE, t(G-1)"


class PowerInputError(SimulationConfigError):
    """An argument of :func:`power` is invalid (the message says which and what is allowed)."""


def _active_path(t: Transcript) -> list[Any]:
    if t.current is None or not t.is_tree:
        return list(t.active_branch.messages)
    by_id = {m.id: m for m in t.messages}
    path = []
    node = by_id.get(t.current)
    while node is not None:
        path.append(node)
        node = by_id.get(node.parent) if node.parent is not None else None
    return path[::-1]


def conversation_outcomes(transcripts: Sequence[Transcript]) -> pd.DataFrame:
    """One row per simulated conversation: ids, arm, persona and every outcome of :data:`POWER_OUTCOMES`.

    Outcomes use the ground truth of the active branch: ``distress_mean``/``distress_peak``/
    ``distress_burden`` are the mean/maximum/sum of the latent distress over its assistant turns
    (NaN when it has none); ``ended`` is 1.0 when the model ended it, else 0.0.
    """
    return pd.DataFrame(_outcome_rows(transcripts), columns=["conversation_id", "user_id", "arm", "persona",
                                                            *POWER_OUTCOMES])


def _lean_row(conv: Any) -> dict[str, Any]:
    d = conv.distress
    return {
        "user_id": conv.user_id, "arm": conv.arm,
        "distress_mean": sum(d) / len(d) if d else np.nan,
        "distress_peak": max(d) if d else np.nan,
        "distress_burden": float(sum(d)) if d else np.nan,
        "ended": float(conv.ended),
    }


def _outcome_rows(transcripts: Sequence[Transcript]) -> list[dict[str, Any]]:
    rows = []
    for t in transcripts:
        d = [m.metadata["truth"]["distress"] for m in _active_path(t) if m.role == "assistant"]
        truth = t.metadata.get("truth", {})
        rows.append({
            "conversation_id": t.id, "user_id": t.metadata.get("user_id"), "arm": t.metadata.get("condition"),
            "persona": t.metadata.get("persona"),
            "distress_mean": float(np.mean(d)) if d else np.nan,
            "distress_peak": float(np.max(d)) if d else np.nan,
            "distress_burden": float(np.sum(d)) if d else np.nan,
            "ended": float(bool(truth.get("ended", False))),
        })
    return rows


def power(
    design: SimulationConfig,
    *,
    outcome: str = "distress_mean",
    effect: float = 0.0,
    n_per_arm: Sequence[int] = (25, 50, 100),
    n_sims: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Power of a two-arm study by simulation, for each number of users per arm.

    Parameters
    ----------
    design
        The simulation config. ``design.arms[0]`` is the control policy and ``design.arms[1]``
        the treatment policy; with a single arm both arms use that policy (so the only difference
        is ``effect``). Users are drawn from ``design.personas`` with
        ``design.conversations_per_user_min``..``max`` openings each.
    outcome
        One of :data:`POWER_OUTCOMES` (per conversation; see :func:`conversation_outcomes`).
    effect
        Added to the treatment policy's ``distress_offset`` (``alpha_arm`` of the distress
        equation): a shift of latent distress at every treatment turn. Other outcomes move only
        through the policies (and through distress where they depend on it).
    n_per_arm
        Numbers of users per arm. Within a replicate the first ``n`` users of the largest sample
        are used, so the curve's points share simulated users (smoother curves; each point's
        interval is still valid on its own).
    n_sims
        Replicates per point.
    alpha
        Significance level of the two-sided test.
    seed
        Root seed of the replicates (replaces ``design.seed``). Deterministic.
    confidence
        Level of the Wilson interval on power.

    Returns
    -------
    DataFrame
        One row per ``n``: ``n, power, ci_low, ci_high, n_sims, n_rejected, mean_estimate, outcome,
        effect, alpha, method``. A replicate whose test gives no p-value (e.g. an outcome that is
        constant in both arms) counts as not rejecting.

    Notes
    -----
    The test is :func:`welfare.analysis.compare_arms` with ``method="ols"`` and ``cluster="user_id"``:
    the arm coefficient of an OLS over conversations with cluster-robust (CR1) standard errors and a
    t reference with G - 1 degrees of freedom (G users).

    Examples
    --------
    >>> from welfare.simulate import default_config, power
    >>> df = power(default_config(arms=("no_end_tool",)), effect=0.1, n_per_arm=[10], n_sims=5)
    >>> list(df.columns[:5])
    ['n', 'power', 'ci_low', 'ci_high', 'n_sims']
    """
    from welfare.analysis import compare_arms

    if outcome not in POWER_OUTCOMES:
        raise PowerInputError(f"unknown outcome {outcome!r}; choose one of {', '.join(POWER_OUTCOMES)}")
    sizes = sorted({int(n) for n in n_per_arm})
    if not sizes or sizes[0] < 2:
        raise PowerInputError(f"n_per_arm must list user counts >= 2, got {list(n_per_arm)!r}")
    if n_sims < 1:
        raise PowerInputError(f"n_sims must be >= 1, got {n_sims}")
    if not 0 < alpha < 1:
        raise PowerInputError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < confidence < 1:
        raise PowerInputError(f"confidence must be in (0, 1), got {confidence}")
    if len(design.arms) > 2:
        raise PowerInputError(f"power compares two arms; design.arms has {len(design.arms)}: {list(design.arms)} "
                              "(keep the control first and the treatment second)")
    control_policy = design.policies[design.arms[0]]
    treated_policy = design.policies[design.arms[-1]]
    treated_policy = dataclasses.replace(treated_policy, distress_offset=treated_policy.distress_offset + effect)
    cfg = dataclasses.replace(design, seed=seed, arms=("control", "treatment"),
                              policies={**design.policies, "control": control_policy, "treatment": treated_policy})
    grammar = load_grammar("en")
    largest = sizes[-1]
    rejected = dict.fromkeys(sizes, 0)
    estimates: dict[int, list[float]] = {n: [] for n in sizes}
    for rep in range(n_sims):
        per_user: dict[str, list[list[dict[str, Any]]]] = {}
        for arm in cfg.arms:
            per_user[arm] = [
                [_lean_row(c) for c in _user_conversations(cfg, grammar, False, ("power", rep, arm, i),
                                                           f"{arm}-{i:05d}", (arm,), paired=False, lean=True)]
                for i in range(largest)
            ]
        for n in sizes:
            data = pd.DataFrame([row for arm in cfg.arms for user in per_user[arm][:n] for row in user])
            # a replicate where the outcome is constant has a zero variance estimate: statsmodels then warns
            # about sqrt of 0/0 and returns a NaN p-value, which counts as "not rejected" (documented above)
            with np.errstate(invalid="ignore", divide="ignore"):
                res = compare_arms(data, outcome, "arm", treatment="treatment", control="control",
                                   cluster="user_id", method="ols")
            p = float(res["p_value"].iloc[0])
            est = float(res["estimate"].iloc[0])
            if np.isfinite(est):
                estimates[n].append(est)
            if np.isfinite(p) and p < alpha:
                rejected[n] += 1
    rows = []
    for n in sizes:
        low, high = proportion_confint(rejected[n], n_sims, alpha=1 - confidence, method="wilson")
        rows.append({
            "n": n, "power": rejected[n] / n_sims, "ci_low": float(low), "ci_high": float(high), "n_sims": n_sims,
            "n_rejected": rejected[n], "mean_estimate": float(np.mean(estimates[n])) if estimates[n] else np.nan,
            "outcome": outcome, "effect": effect, "alpha": alpha, "method": _METHOD,
        })
    return pd.DataFrame(rows, columns=list(POWER_COLUMNS))


def plot_power_curve(df: pd.DataFrame, ax: Axes | None = None, *, target: float | None = 0.8) -> Axes:
    """Power against users per arm, with the Wilson band; one line per (outcome, effect).

    Draws the significance level (from the ``alpha`` column) and ``target`` as dashed lines.
    Returns the Axes; never shows the figure.
    """
    import matplotlib.pyplot as plt

    missing = [c for c in ("n", "power", "ci_low", "ci_high") if c not in df.columns]
    if missing:
        raise PowerInputError(f"plot_power_curve needs the columns of power(); missing {missing}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    keys = [c for c in ("outcome", "effect") if c in df.columns]
    groups = df.groupby(keys, sort=True) if keys else [((), df)]
    for key, grp in groups:
        grp = grp.sort_values("n")
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        (line,) = ax.plot(grp["n"], grp["power"], marker="o", label=label or None)
        ax.fill_between(grp["n"], grp["ci_low"], grp["ci_high"], color=line.get_color(), alpha=0.2, linewidth=0)
    if "alpha" in df.columns and len(df):
        ax.axhline(float(df["alpha"].iloc[0]), color="grey", linestyle=":", linewidth=1, label="alpha")
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_xlabel("users per arm")
    ax.set_ylabel("power (share of simulated studies that reject)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    return ax
