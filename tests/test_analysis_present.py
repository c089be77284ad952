"""Presentation of results: booktabs LaTeX and the figure functions (Agg backend, ax in, Axes out)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from welfare.analysis import (
    PALETTE,
    AnalysisInputError,
    compare_arms,
    event_study,
    event_study_plot,
    forest_plot,
    kaplan_meier,
    policy_audit,
    policy_audit_plot,
    survival_plot,
    to_latex,
)
from welfare.analysis._results import make_result


def test_to_latex_formats_escapes_and_wraps() -> None:
    res = make_result([
        {"outcome": "distress_mean", "contrast": "tool - none", "estimate": -0.12345, "ci_low": -0.2,
         "ci_high": -0.04, "p_value": 0.00001, "p_adjusted": 0.00002, "n_clusters": 80, "n_obs": 1234},
        {"outcome": "refusal_rate", "contrast": "100% & more", "estimate": 0.5, "ci_low": np.nan,
         "ci_high": np.nan, "p_value": 0.2567, "p_adjusted": 0.5, "n_clusters": np.nan, "n_obs": 10},
    ])
    tex = to_latex(res, caption="Effects of the ending tool", label="tab:effects", digits=3)
    lines = tex.splitlines()
    assert lines[0] == r"\begin{table}[t]" and lines[-1] == r"\end{table}"
    assert r"\toprule" in lines and r"\midrule" in lines and r"\bottomrule" in lines
    assert r"\begin{tabular}{llrrrrrr}" in lines
    assert r"Outcome & Contrast & Estimate & 95\% CI & $p$ & $p_{\mathrm{adj}}$ & Clusters & $N$ \\" in lines
    assert r"distress\_mean & tool - none & $-$0.123 & [$-$0.200, $-$0.040] & $<$0.001 & $<$0.001 & 80 & 1{,}234 \\" in lines
    assert r"refusal\_rate & 100\% \& more & 0.500 & [--, --] & 0.257 & 0.500 & -- & 10 \\" in lines
    assert res.estimate.iloc[0] == -0.12345  # display formatting never touches the numbers
    short = to_latex(res, columns=["contrast", "estimate"], confidence=0.9)
    assert short.startswith(r"\begin{tabular}{lr}") and "CI" not in short
    with pytest.raises(AnalysisInputError, match="no column"):
        to_latex(res, columns=["nope"])


@pytest.fixture
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    convs = pd.DataFrame({
        "condition": np.repeat(["none", "tool"], 30),
        "model": "m",
        "user_id": np.arange(60) // 2,
        "distress_mean": rng.normal(size=60),
        "turns": rng.integers(1, 10, 60),
        "ended": rng.random(60) < 0.5,
        "ending_policy": rng.choice(["last_resort", "not_ended", "premature"], 60),
    })
    msgs = pd.DataFrame({
        "conversation_id": np.repeat(np.arange(20), 8), "branch_id": "0",
        "message_index": np.tile(np.arange(8), 20),
        "role": np.tile(["user", "assistant"], 80),
        "condition": np.repeat(np.where(np.arange(20) % 2, "tool", "none"), 8),
        "distress": rng.random(160),
        "anchor": np.tile([False, False, False, True, False, False, False, False], 20),
    })
    return convs, msgs


def test_figures_draw_on_the_given_axes_and_return_them(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    convs, msgs = data
    fig, axes = plt.subplots(2, 2)
    effects = compare_arms(convs, "distress_mean", "condition", n_boot=100)
    ax = forest_plot(effects, ax=axes[0, 0])
    assert ax is axes[0, 0] and [t.get_text() for t in ax.get_yticklabels()] == ["mean apparent distress · tool - none"]
    es = event_study(msgs, "distress", "anchor", window=2, arm="condition", n_boot=50)
    ax = event_study_plot(es, ax=axes[0, 1])
    assert len(ax.get_lines()) == 3 and ax.get_ylabel() == "apparent distress"  # two arms + anchor line
    assert ax.get_lines()[0].get_color().lower() == PALETTE[0].lower()
    km = kaplan_meier(convs, "turns", "ended", group="condition")
    ax = survival_plot(km, ax=axes[1, 0])
    assert ax.get_lines()[0].get_ydata()[0] == 1.0
    audit = policy_audit(convs, by=["condition"])
    ax = policy_audit_plot(audit, ax=axes[1, 1])
    assert len(ax.patches) == 2 * 5
    plt.close(fig)


def test_figures_create_axes_when_none_given_and_reject_wrong_input(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    convs, _ = data
    ax = forest_plot(compare_arms(convs, "distress_mean", "condition", method="welch"))
    assert isinstance(ax, Axes)
    plt.close(ax.figure)
    with pytest.raises(AnalysisInputError, match="no column"):
        survival_plot(compare_arms(convs, "distress_mean", "condition", method="welch"))
