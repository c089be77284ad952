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
from welfare.analysis._plots import arm_colors
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
    first = str(es.loc[es.contrast == "mean", "arm"].iloc[0])  # arms take their arm_colors colour, not row order
    assert ax.get_lines()[0].get_color().lower() == arm_colors(es.loc[es.contrast == "mean", "arm"])[first].lower()
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


def _effects_on_three_scales() -> pd.DataFrame:
    """Two contrasts on three outcomes of very different scales, and one outcome without any estimate."""
    rows = []
    for outcome, scale in (("distress_burden", 4.0), ("distress_mean", 0.01), ("longest_refusal_streak", 0.5)):
        for k, contrast in enumerate(("early - none", "late - none")):
            est = scale * (k - 0.7)
            rows.append({"outcome": outcome, "contrast": contrast, "estimate": est, "ci_low": est - scale / 3,
                         "ci_high": est + scale / 4})
    rows += [{"outcome": "redirects_before_ending", "contrast": c, "estimate": np.nan, "ci_low": np.nan,
              "ci_high": np.nan} for c in ("early - none", "late - none")]
    return make_result(rows)


def _points(ax: Axes) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x, y) of the markers of each errorbar drawn on ``ax``."""
    return [(np.asarray(c.lines[0].get_xdata(), dtype=float), np.asarray(c.lines[0].get_ydata(), dtype=float))
            for c in ax.containers]


def test_forest_facets_give_one_panel_per_outcome_each_on_its_own_scale() -> None:
    effects = _effects_on_three_scales()
    axes = forest_plot(effects, facet="outcome")
    fig = axes[0].figure
    assert isinstance(axes, np.ndarray) and axes.shape == (3,) and all(isinstance(a, Axes) for a in axes)
    assert len(fig.axes) == 3  # no panel, not even an empty one, for the outcome without estimates
    assert [a.get_title().replace("\n", " ") for a in axes] == [
        "apparent distress burden", "mean apparent distress", "longest refusal streak"]
    for ax, outcome in zip(axes, ["distress_burden", "distress_mean", "longest_refusal_streak"], strict=True):
        rows = effects[effects["outcome"] == outcome]
        [(x, y)] = _points(ax)
        np.testing.assert_allclose(x, rows["estimate"])
        np.testing.assert_array_equal(y, [1, 0])  # frame order, top to bottom, the same rows in every panel
        low, high = ax.get_xlim()
        assert low <= rows["ci_low"].min() and high >= rows["ci_high"].max()
        assert high - low < 3 * (rows["ci_high"].max() - rows["ci_low"].min())  # fitted to this outcome alone
    widths = [np.subtract(*a.get_xlim()[::-1]) for a in axes]
    assert widths[0] > 100 * widths[1]  # a shared axis would flatten the per-turn mean to a dot
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["early - none", "late - none"]
    assert all(axes[0].get_shared_y_axes().joined(axes[0], a) for a in axes[1:])
    assert not any(axes[0].get_shared_x_axes().joined(axes[0], a) for a in axes[1:])
    notes = [t.get_text().replace("\n", " ") for t in fig.texts]
    assert any("redirects before ending" in n and "no estimate" in n for n in notes)
    plt.close(fig)


def test_forest_facets_name_a_single_missing_row_and_wrap_into_rows_of_panels() -> None:
    effects = _effects_on_three_scales()
    effects = effects[effects["outcome"] != "redirects_before_ending"].reset_index(drop=True)
    effects.loc[3, ["estimate", "ci_low", "ci_high"]] = np.nan  # distress_mean, late - none
    fig = plt.figure()
    axes = forest_plot(effects, facet="outcome", ncols=2, fig=fig)
    assert axes[0].figure is fig and len(fig.axes) == 3
    assert [a.get_subplotspec().rowspan.start for a in axes] == [0, 0, 1]
    [(x, y)] = _points(axes[1])
    np.testing.assert_allclose(x, [effects.loc[2, "estimate"]])
    np.testing.assert_array_equal(y, [1])
    [note] = [t.get_text().replace("\n", " ") for t in fig.texts if "no estimate" in t.get_text()]
    assert "mean apparent distress (late - none)" in note and "burden" not in note
    plt.close(fig)


def test_forest_facets_by_declared_scale_group() -> None:
    effects = _effects_on_three_scales()
    axes = forest_plot(effects, facet={"distress_burden": "counts per conversation",
                                       "longest_refusal_streak": "counts per conversation"})
    assert [a.get_title() for a in axes] == ["counts per conversation", "mean apparent distress"]
    burden, streak = _points(axes[0])
    assert burden[1][0] > streak[1][0] > burden[1][1] > streak[1][1]  # offset within each shared row
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["apparent distress burden",
                                                                         "longest refusal streak"]
    colours = [c.lines[0].get_color().lower() for c in axes[0].containers]
    assert colours == [PALETTE[0].lower(), PALETTE[1].lower()]
    assert axes[1].get_legend() is None
    plt.close(axes[0].figure)


def test_forest_facet_titles_tell_a_group_from_an_outcome_of_the_same_name() -> None:
    # Group "mean apparent distress" holds burden and streak; distress_mean, left on its own, has that label too.
    effects = _effects_on_three_scales()
    facet = {"distress_burden": "mean apparent distress", "longest_refusal_streak": "mean apparent distress"}
    axes = forest_plot(effects, facet=facet)
    titles = [a.get_title().replace("\n", " ") for a in axes]
    assert titles == ["mean apparent distress (group)", "mean apparent distress (distress_mean)"]
    assert axes[0].get_legend() is not None and axes[1].get_legend() is None  # the group is the first panel
    plt.close(axes[0].figure)
    # an outcome whose name is its own label, and a group of that name
    plain = effects.assign(outcome=effects["outcome"].replace({"distress_mean": "hostility"}))
    axes = forest_plot(plain, facet={"distress_burden": "hostility", "longest_refusal_streak": "hostility"})
    assert [a.get_title() for a in axes] == ["hostility (group)", "hostility (outcome)"]
    plt.close(axes[0].figure)
    # two outcomes with one label: the column names tell them apart; other panels keep their plain titles
    twins = effects.assign(outcome=effects["outcome"].replace({"distress_burden": "mean apparent distress"}))
    axes = forest_plot(twins, facet="outcome")
    assert [a.get_title().replace("\n", " ") for a in axes] == [
        "mean apparent distress (outcome)", "mean apparent distress (distress_mean)", "longest refusal streak"]
    plt.close(axes[0].figure)


def test_forest_single_panel_drops_missing_rows_with_a_note() -> None:
    effects = _effects_on_three_scales()
    shown = effects[effects["estimate"].notna()]
    ax = forest_plot(effects)
    [(x, y)] = _points(ax)
    np.testing.assert_allclose(x, shown["estimate"])
    np.testing.assert_array_equal(y, np.arange(len(shown))[::-1])
    assert len(ax.get_yticklabels()) == len(shown)
    assert [t.get_text() for t in ax.texts] == ["Not shown, no estimate: redirects before ending (all rows)."]
    plt.close(ax.figure)
    ax = forest_plot(shown)  # every row has an estimate: exactly the plot it always was
    assert len(ax.texts) == 0 and ax.get_xlabel() == "estimate (interval)" and len(_points(ax)) == 1
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[0] == "apparent distress burden · early - none" and ticks[-1] == "longest refusal streak · late - none"
    plt.close(ax.figure)


def test_forest_facets_reject_what_they_cannot_draw() -> None:
    effects = _effects_on_three_scales()
    _, ax = plt.subplots()
    with pytest.raises(AnalysisInputError, match="fig="):
        forest_plot(effects, ax, facet="outcome")
    with pytest.raises(AnalysisInputError, match="'outcome'"):
        forest_plot(effects, facet="contrast")
    with pytest.raises(AnalysisInputError, match="no row of results has an estimate"):
        forest_plot(effects[effects["estimate"].isna()], facet="outcome")
    with pytest.raises(AnalysisInputError, match="add the column"):
        forest_plot(pd.concat([effects, effects]), facet="outcome")
    with pytest.raises(AnalysisInputError, match="ncols"):
        forest_plot(effects, facet="outcome", ncols=0)
    plt.close("all")


def test_per_arm_figures_give_each_arm_one_colour() -> None:
    from matplotlib.colors import to_hex

    colours = {k: v.lower() for k, v in arm_colors(["tool_late", "tool_early", "control"]).items()}  # sorted: control, tool_early, tool_late
    assert list(colours) == ["control", "tool_early", "tool_late"] and len(set(colours.values())) == 3
    turns = [-1, 0, 1]
    rows = [{"outcome": "distress", "contrast": "mean", "arm": a, "turn": t, "estimate": 0.1, "ci_low": 0.0,
             "ci_high": 0.2} for a in ("control", "tool_early", "tool_late") for t in turns]
    rows += [{"outcome": "distress", "contrast": f"{a} - control", "arm": f"{a} - control", "turn": t,
              "estimate": 0.0, "ci_low": -0.1, "ci_high": 0.1} for a in ("tool_late", "tool_early") for t in turns]
    es = pd.DataFrame(rows)
    ax = event_study_plot(es)
    assert {ln.get_label(): to_hex(ln.get_color()) for ln in ax.get_lines() if not ln.get_label().startswith("_")} \
        == colours
    ax = event_study_plot(es, differences=True)  # a difference takes its treatment arm's colour
    got = {ln.get_label(): to_hex(ln.get_color()) for ln in ax.get_lines() if not ln.get_label().startswith("_")}
    assert got == {"tool_late - control": colours["tool_late"], "tool_early - control": colours["tool_early"]}
    # survival curves of only the arms with endings keep the colours given for all arms
    km = pd.DataFrame([{"group": f"condition={a}", "time": t, "estimate": 0.9, "ci_low": 0.8, "ci_high": 1.0}
                       for a in ("tool_late", "tool_early") for t in (1, 2)])
    ax = survival_plot(km, colors=colours)
    got = {ln.get_label(): to_hex(ln.get_color()) for ln in ax.get_lines() if not ln.get_label().startswith("_")}
    assert got == {"condition=tool_late": colours["tool_late"], "condition=tool_early": colours["tool_early"]}
    audit = pd.DataFrame([{"group": f"condition={a}", "category": "last_resort", "estimate": 0.5, "ci_low": 0.4,
                           "ci_high": 0.6} for a in ("tool_early", "control")])
    ax = policy_audit_plot(audit, colors=colours)
    bars = {to_hex(p.get_facecolor()) for p in ax.patches}
    assert bars == {colours["tool_early"], colours["control"]}
    # arm names with '=' or ', ', and a group of conversations without an arm, keep distinct colours
    odd = {k: v.lower() for k, v in arm_colors(["k=v", "a, b"]).items()}
    audit = pd.DataFrame([{"group": g, "category": "last_resort", "estimate": 0.5, "ci_low": 0.4, "ci_high": 0.6}
                          for g in ("variant=k=v", "variant=a, b", "variant=nan")])
    ax = policy_audit_plot(audit, colors=odd)
    drawn = [to_hex(p.get_facecolor()) for p in ax.patches]  # one category: one bar per group, in group order
    assert drawn[0] == odd["k=v"] and drawn[1] == odd["a, b"] and drawn[2] not in odd.values()
    plt.close("all")


def test_forest_plot_draws_an_interval_that_excludes_its_estimate() -> None:
    # a percentile bootstrap interval can lie wholly on one side of the estimate; the figure must still be drawn
    res = pd.DataFrame({"outcome": ["distress_mean", "refusal_rate"], "contrast": ["tool - none"] * 2,
                        "estimate": [0.10, 0.02], "ci_low": [0.12, -0.01], "ci_high": [0.20, 0.05]})
    ax = forest_plot(res)
    xs = np.concatenate([ln.get_xdata() for ln in ax.get_lines()]).astype(float)
    assert 0.10 in xs and 0.02 in xs  # both estimates are drawn
    axes = forest_plot(res, facet="outcome")
    assert len(axes) == 2
    plt.close("all")
