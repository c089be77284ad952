"""Power analysis by simulation: calibrated at zero effect, rising with n, Wilson intervals, plot."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from welfare.simulate import (
    POWER_OUTCOMES,
    PowerInputError,
    conversation_outcomes,
    default_config,
    plot_power_curve,
    power,
    simulate,
)

# one conversation per user and one policy in both arms: the only difference is the injected effect
DESIGN = default_config(arms=("no_end_tool",), conversations_per_user_min=1, conversations_per_user_max=2)


@pytest.mark.slow
def test_power_is_alpha_at_zero_effect():
    """Identical arms: the rejection rate estimates the test's size.

    Bound: alpha + 4 binomial standard errors of the simulation (sqrt(alpha(1-alpha)/n_sims)),
    plus nothing else: a cluster-robust t-test with 30 users is close to nominal.
    """
    n_sims, alpha = 120, 0.05
    df = power(DESIGN, outcome="distress_mean", effect=0.0, n_per_arm=[15], n_sims=n_sims, alpha=alpha, seed=3)
    (row,) = df.itertuples()
    tolerance = 4 * math.sqrt(alpha * (1 - alpha) / n_sims)
    assert abs(row.power - alpha) <= tolerance
    assert abs(row.mean_estimate) < 0.03  # no systematic difference between identical arms
    assert row.n_sims == n_sims and row.n_rejected == round(row.power * n_sims)


def test_power_rises_with_n_and_effect_is_recovered():
    df = power(DESIGN, outcome="distress_mean", effect=0.08, n_per_arm=[4, 30], n_sims=40, seed=1)
    small, large = df.sort_values("n").itertuples()
    assert large.power > small.power
    assert large.ci_low > small.ci_high  # the rise is beyond simulation error
    # the offset enters an AR(1) with rho = 0.5 started at 0, so the per-conversation shift lies
    # between the offset itself and its long-run value offset / (1 - rho)
    assert 0.08 * 0.8 < large.mean_estimate < 0.08 / (1 - DESIGN.distress.rho)


def test_power_detects_policy_difference_in_endings():
    design = default_config(arms=("no_end_tool", "end_tool_last_resort"), conversations_per_user_max=2)
    df = power(design, outcome="ended", effect=0.0, n_per_arm=[30], n_sims=10, seed=2)
    assert df["mean_estimate"].iloc[0] > 0  # the last-resort arm ends conversations, the control never does
    assert df["power"].iloc[0] > 0.5


def test_wilson_interval_matches_statsmodels_and_frame_is_deterministic():
    a = power(DESIGN, effect=0.05, n_per_arm=[6, 12], n_sims=12, seed=7)
    b = power(DESIGN, effect=0.05, n_per_arm=[12, 6], n_sims=12, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:5]) == ["n", "power", "ci_low", "ci_high", "n_sims"]
    for row in a.itertuples():
        low, high = proportion_confint(row.n_rejected, row.n_sims, alpha=0.05, method="wilson")
        assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
        assert row.ci_low <= row.power <= row.ci_high


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"outcome": "happiness"}, "unknown outcome 'happiness'"),
    ({"n_per_arm": [1]}, "n_per_arm"),
    ({"n_sims": 0}, "n_sims"),
    ({"alpha": 1.5}, "alpha"),
])
def test_bad_power_arguments(kwargs, message):
    with pytest.raises(PowerInputError, match=message):
        power(DESIGN, **kwargs)
    with pytest.raises(ValueError):
        power(DESIGN, **kwargs)


def test_three_arms_are_refused():
    design = default_config(arms=("no_end_tool", "end_tool_early", "end_tool_last_resort"))
    with pytest.raises(PowerInputError, match="two arms"):
        power(design)


def test_conversation_outcomes_follow_the_ground_truth():
    convs = simulate(default_config(seed=4, n_conversations=20, arms=("end_tool_last_resort",)))
    df = conversation_outcomes(convs)
    assert list(df.columns[4:]) == list(POWER_OUTCOMES)
    for t, row in zip(convs, df.itertuples(), strict=True):
        d = [m.metadata["truth"]["distress"] for m in t.active_branch.messages if m.role == "assistant"]
        assert row.distress_mean == pytest.approx(sum(d) / len(d))
        assert row.distress_peak == max(d) and row.distress_burden == pytest.approx(sum(d))
        assert row.ended == float(t.ending.by == "assistant")


def test_plot_power_curve_returns_axes_with_band():
    df = pd.DataFrame({"n": [10, 20, 40], "power": [0.2, 0.5, 0.8], "ci_low": [0.1, 0.4, 0.7],
                       "ci_high": [0.3, 0.6, 0.9], "n_sims": 100, "outcome": "distress_mean", "effect": 0.05,
                       "alpha": 0.05})
    ax = plot_power_curve(df)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [10, 20, 40] and list(line.get_ydata()) == [0.2, 0.5, 0.8]
    assert ax.collections  # the Wilson band
    assert ax.get_xlabel() == "users per arm"
    _fig, given = plt.subplots()
    assert plot_power_curve(df, ax=given) is given
    plt.close("all")
    with pytest.raises(PowerInputError, match="missing"):
        plot_power_curve(df.drop(columns=["ci_low"]))


def test_lean_path_used_by_power_gives_the_same_outcomes_as_full_transcripts():
    """power() skips building messages; its per-conversation outcomes must equal the full simulator's."""
    from welfare.simulate._engine import _user_conversations
    from welfare.simulate._grammar import load_grammar
    from welfare.simulate._power import _lean_row

    cfg = default_config(seed=5, arms=("end_tool_early",))
    grammar = load_grammar("en")
    n_followups = 0
    for i in range(40):
        key = ("power", 0, "end_tool_early", i)
        full = list(_user_conversations(cfg, grammar, False, key, f"u{i}", cfg.arms, paired=False))
        lean = [_lean_row(c) for c in _user_conversations(cfg, grammar, False, key, f"u{i}", cfg.arms, paired=False,
                                                        lean=True)]
        expected = conversation_outcomes(full).drop(columns=["conversation_id", "persona"]).to_dict("records")
        assert lean == expected
        n_followups += sum("previous_conversation_id" in t.metadata for t in full)
    assert n_followups > 0
