"""Two-arm comparisons, paired effects, effect sizes, rates and multiplicity, pinned against independent
computations (hand formulas, scipy, statsmodels, or published examples, named next to each check)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from welfare.analysis import (
    RESULT_COLUMNS,
    AnalysisInputError,
    adjust_pvalues,
    compare_arms,
    effect_sizes,
    paired_effect,
    wilson,
)
from welfare.analysis._bootstrap import bootstrap_counts


def clustered(seed: int = 0, n_users: int = 60, effect: float = 0.5) -> pd.DataFrame:
    """Users randomised to arms; 1-6 conversations each; a user effect makes rows within a user correlated."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        arm = "tool" if u % 2 else "baseline"
        user_effect = rng.normal()
        for c in range(rng.integers(1, 7)):
            rows.append({"user_id": f"u{u}", "conversation_id": f"u{u}c{c}", "condition": arm,
                         "distress_mean": user_effect + rng.normal() + effect * (arm == "tool")})
    return pd.DataFrame(rows)


def cr1_by_hand(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cluster-robust (CR1) OLS coefficients and SEs by hand: the sandwich with G/(G-1)·(N-1)/(N-K)."""
    n, k = x.shape
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ y
    resid = y - x @ beta
    meat = np.zeros((k, k))
    labels = np.unique(groups)
    for g in labels:
        score = x[groups == g].T @ resid[groups == g]
        meat += np.outer(score, score)
    g_count = labels.size
    cov = bread @ meat @ bread * g_count / (g_count - 1) * (n - 1) / (n - k)
    return beta, np.sqrt(np.diag(cov))


def test_every_result_has_the_fixed_columns_first() -> None:
    df = clustered()
    for res in (compare_arms(df, "distress_mean", "condition", n_boot=50),
                paired_effect(df.assign(pair=df.index // 2), "distress_mean", "condition", "pair", n_boot=50),
                effect_sizes(df, "distress_mean", "condition"),
                wilson(df.assign(b=df.distress_mean > 0), "b")):
        assert tuple(res.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS


def test_welch_matches_the_welch_satterthwaite_formula() -> None:
    df = clustered(1)
    res = compare_arms(df, "distress_mean", "condition", method="welch", confidence=0.9).iloc[0]
    a = df.loc[df.condition == "tool", "distress_mean"].to_numpy()
    b = df.loc[df.condition == "baseline", "distress_mean"].to_numpy()
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))  # Welch–Satterthwaite
    q = stats.t.ppf(0.95, dof)
    assert res.contrast == "tool - baseline"
    assert res.estimate == pytest.approx(a.mean() - b.mean())
    assert res.se == pytest.approx(se)
    assert (res.ci_low, res.ci_high) == pytest.approx((a.mean() - b.mean() - q * se, a.mean() - b.mean() + q * se))
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs((a.mean() - b.mean()) / se), dof))


def test_ols_cluster_robust_matches_the_sandwich_by_hand() -> None:
    df = clustered(2)
    res = compare_arms(df, "distress_mean", "condition", cluster="user_id", method="ols").iloc[0]
    x = np.column_stack([np.ones(len(df)), (df.condition == "tool").to_numpy(float)])
    beta, se = cr1_by_hand(df.distress_mean.to_numpy(), x, df.user_id.to_numpy())
    g = df.user_id.nunique()
    q = stats.t.ppf(0.975, g - 1)  # statsmodels' cluster inference uses t with G-1 df
    assert res.estimate == pytest.approx(beta[1])
    assert res.se == pytest.approx(se[1])
    assert (res.ci_low, res.ci_high) == pytest.approx((beta[1] - q * se[1], beta[1] + q * se[1]))
    assert res.n_clusters == g and res.n_obs == len(df)


def test_ols_adjusts_for_covariates() -> None:
    df = clustered(3)
    df["model"] = np.where(np.arange(len(df)) % 3 == 0, "m1", "m2")
    df.loc[df.model == "m1", "distress_mean"] += 2.0
    res = compare_arms(df, "distress_mean", "condition", cluster="user_id", method="ols", covariates=["model"])
    x = np.column_stack([np.ones(len(df)), (df.condition == "tool").to_numpy(float), (df.model == "m2").to_numpy(float)])
    beta, se = cr1_by_hand(df.distress_mean.to_numpy(), x, df.user_id.to_numpy())
    assert res.estimate.iloc[0] == pytest.approx(beta[1])
    assert res.se.iloc[0] == pytest.approx(se[1])


def test_bootstrap_is_deterministic_and_agrees_with_the_cluster_robust_interval() -> None:
    df = clustered(4, n_users=200)
    boot = compare_arms(df, "distress_mean", "condition", cluster="user_id", n_boot=2000, seed=7)
    again = compare_arms(df, "distress_mean", "condition", cluster="user_id", n_boot=2000, seed=7)
    pd.testing.assert_frame_equal(boot, again)
    ols = compare_arms(df, "distress_mean", "condition", cluster="user_id", method="ols").iloc[0]
    b = boot.iloc[0]
    assert b.estimate == pytest.approx(ols.estimate)
    assert b.se == pytest.approx(ols.se, rel=0.1)
    assert b.ci_low == pytest.approx(ols.ci_low, abs=0.25 * ols.se)
    assert b.ci_high == pytest.approx(ols.ci_high, abs=0.25 * ols.se)
    naive = compare_arms(df, "distress_mean", "condition", n_boot=2000)
    assert naive.se.iloc[0] < 0.85 * b.se  # ignoring users understates the uncertainty here


def test_bootstrap_p_value_agrees_with_its_interval() -> None:
    for seed in range(6):
        df = clustered(seed, n_users=40, effect=0.4)
        r = compare_arms(df, "distress_mean", "condition", cluster="user_id", n_boot=999, seed=seed).iloc[0]
        assert (r.p_value < 0.05) == (r.ci_low > 0 or r.ci_high < 0)


def test_stratified_resampling_keeps_cluster_counts_per_stratum() -> None:
    strata = np.array([0, 0, 0, 1, 1])
    blocks = list(bootstrap_counts(strata, 300, 0))
    counts = np.concatenate(blocks)
    assert counts.shape == (300, 5)
    assert np.all(counts[:, :3].sum(axis=1) == 3) and np.all(counts[:, 3:].sum(axis=1) == 2)


def test_proportion_outcome_and_multiple_outcomes_and_levels() -> None:
    df = clustered(5)
    df["ended"] = df.distress_mean > 0.5
    df.loc[df.index[:10], "condition"] = "bail"
    res = compare_arms(df, ["ended", "distress_mean"], "condition", control="baseline", n_boot=100)
    assert list(res.contrast) == ["bail - baseline", "tool - baseline"] * 2
    row = res.iloc[1]
    t = df.loc[df.condition == "tool", "ended"].mean()
    c = df.loc[df.condition == "baseline", "ended"].mean()
    assert row.estimate == pytest.approx(t - c) and row.mean_treatment == pytest.approx(t)


def test_missing_outcome_rows_are_left_out_and_empty_arm_gives_nan() -> None:
    df = clustered(6)
    df.loc[df.index[:5], "distress_mean"] = np.nan
    res = compare_arms(df, "distress_mean", "condition", method="welch").iloc[0]
    assert res.n_obs == len(df) - 5
    only = df[df.condition == "tool"].copy()
    only["condition"] = pd.Categorical(only.condition)
    with pytest.raises(AnalysisInputError, match=r"control level .baseline. does not occur"):
        compare_arms(only, "distress_mean", "condition", treatment="tool", control="baseline")
    empty = df.assign(distress_mean=np.where(df.condition == "tool", np.nan, df.distress_mean))
    r = compare_arms(empty, "distress_mean", "condition", n_boot=20).iloc[0]
    assert np.isnan(r.estimate) and np.isnan(r.ci_low)


def test_empty_input_gives_nan_rows() -> None:
    empty = clustered().iloc[0:0]
    for method in ("bootstrap", "ols", "welch"):
        res = compare_arms(empty, "distress_mean", "condition", treatment="tool", control="baseline",
                           cluster="user_id", method=method)  # type: ignore[arg-type]
        assert len(res) == 1 and np.isnan(res.estimate.iloc[0]) and res.n_obs.iloc[0] == 0
    res = paired_effect(empty.assign(pair_id=[]), "distress_mean", "condition", "pair_id", treatment="tool",
                        control="baseline")
    assert np.isnan(res.estimate.iloc[0]) and res.n_clusters.iloc[0] == 0
    sizes = effect_sizes(empty, "distress_mean", "condition", treatment="tool", control="baseline")
    assert sizes.estimate.isna().all() and len(sizes) == 2


def test_input_errors_name_the_problem() -> None:
    df = clustered(7)
    with pytest.raises(AnalysisInputError, match=r"'nope'.*available columns"):
        compare_arms(df, "nope", "condition")
    with pytest.raises(AnalysisInputError, match="method must be one of"):
        compare_arms(df, "distress_mean", "condition", method="magic")  # type: ignore[arg-type]
    with pytest.raises(AnalysisInputError, match="control level 'x'"):
        compare_arms(df, "distress_mean", "condition", control="x")
    with pytest.raises(AnalysisInputError, match="numeric or boolean"):
        compare_arms(df, "condition", "condition")
    with pytest.raises(AnalysisInputError, match="confidence"):
        compare_arms(df, "distress_mean", "condition", confidence=95)
    bad = df.copy()
    bad.loc[bad.index[0], "user_id"] = None
    with pytest.raises(AnalysisInputError, match="cluster column 'user_id' is missing"):
        compare_arms(bad, "distress_mean", "condition", cluster="user_id")


def paired_data(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(50):
        base, user = rng.normal(), f"u{p // 5}"
        for arm in ("baseline", "tool"):
            rows.append({"pair_id": f"p{p}", "user_id": user, "condition": arm,
                         "distress_mean": base + rng.normal(scale=0.5) - 0.3 * (arm == "tool")})
    return pd.DataFrame(rows)


def test_paired_ttest_matches_scipy_ttest_rel() -> None:
    df = paired_data()
    res = paired_effect(df, "distress_mean", "condition", "pair_id", method="ttest").iloc[0]
    wide = df.pivot(index="pair_id", columns="condition", values="distress_mean")
    ref = stats.ttest_rel(wide["tool"], wide["baseline"])  # scipy's paired t-test
    ci = ref.confidence_interval(0.95)
    assert res.estimate == pytest.approx((wide.tool - wide.baseline).mean())
    assert (res.ci_low, res.ci_high, res.p_value) == pytest.approx((ci.low, ci.high, ref.pvalue))
    assert res.n_clusters == 50 and res.n_obs == 100
    ols = paired_effect(df, "distress_mean", "condition", "pair_id", method="ols").iloc[0]
    assert (ols.ci_low, ols.ci_high) == pytest.approx((ci.low, ci.high))  # one cluster per pair: same as t-test


def test_paired_clustered_by_user_matches_hand_sandwich_and_drops_incomplete_pairs() -> None:
    df = paired_data(1)
    df = df.drop(df.index[-1])  # pair p49 loses its tool row
    res = paired_effect(df, "distress_mean", "condition", "pair_id", cluster="user_id", method="ols").iloc[0]
    wide = df.pivot(index="pair_id", columns="condition", values="distress_mean").dropna()
    diff = (wide.tool - wide.baseline).to_numpy()
    users = df.drop_duplicates("pair_id").set_index("pair_id").loc[wide.index, "user_id"].to_numpy()
    beta, se = cr1_by_hand(diff, np.ones((diff.size, 1)), users)
    assert res.estimate == pytest.approx(beta[0]) and res.se == pytest.approx(se[0])
    assert res.n_clusters == 10 and res.n_obs == 98
    boot = paired_effect(df, "distress_mean", "condition", "pair_id", cluster="user_id", n_boot=1000).iloc[0]
    assert boot.estimate == pytest.approx(beta[0]) and boot.ci_low < beta[0] < boot.ci_high
    with pytest.raises(AnalysisInputError, match="cannot use cluster"):
        paired_effect(df, "distress_mean", "condition", "pair_id", cluster="user_id", method="ttest")


def test_hedges_g_matches_its_relation_to_the_pooled_t_statistic() -> None:
    df = clustered(8)
    res = effect_sizes(df, "distress_mean", "condition", measures=["hedges_g"]).iloc[0]
    a = df.loc[df.condition == "tool", "distress_mean"]
    b = df.loc[df.condition == "baseline", "distress_mean"]
    t = stats.ttest_ind(a, b, equal_var=True)
    d = t.statistic * np.sqrt(1 / a.size + 1 / b.size)  # Cohen's d from the pooled t (Hedges & Olkin 1985)
    g = d * (1 - 3 / (4 * (a.size + b.size) - 9))
    assert res.estimate == pytest.approx(g) and res.p_value == pytest.approx(t.pvalue)
    assert res.measure == "hedges_g" and res.ci_low < g < res.ci_high


def test_cliffs_delta_matches_mann_whitney_u_and_brute_force_delong() -> None:
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"arm": ["a"] * 30 + ["b"] * 40,
                       "y": np.r_[rng.integers(0, 5, 30), rng.integers(1, 6, 40)].astype(float)})
    res = effect_sizes(df, "y", "arm", measures=["cliffs_delta"]).iloc[0]
    x, y = df.y[df.arm == "b"].to_numpy(), df.y[df.arm == "a"].to_numpy()
    u = stats.mannwhitneyu(x, y, alternative="two-sided")
    assert res.estimate == pytest.approx(2 * u.statistic / (x.size * y.size) - 1)  # delta = 2U/(n1 n2) - 1
    assert res.p_value == pytest.approx(u.pvalue)
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])  # DeLong placements, brute force
    var = psi.mean(axis=1).var(ddof=1) / x.size + psi.mean(axis=0).var(ddof=1) / y.size
    assert res.se == pytest.approx(2 * np.sqrt(var))


def test_risk_difference_matches_newcombes_published_example() -> None:
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 vs 48/80; method 10 interval 0.0524 to 0.3339.
    df = pd.DataFrame({"arm": ["t"] * 70 + ["c"] * 80, "ended": [1] * 56 + [0] * 14 + [1] * 48 + [0] * 32})
    res = effect_sizes(df, "ended", "arm", treatment="t", control="c").set_index("measure")
    assert res.loc["risk_difference", "estimate"] == pytest.approx(0.2)
    assert res.loc["risk_difference", "ci_low"] == pytest.approx(0.0524, abs=5e-5)
    assert res.loc["risk_difference", "ci_high"] == pytest.approx(0.3339, abs=5e-5)
    # risk ratio with the Katz log interval and odds ratio with Woolf's logit interval, by hand
    rr, se_rr = 0.8 / 0.6, np.sqrt(1 / 56 - 1 / 70 + 1 / 48 - 1 / 80)
    assert res.loc["risk_ratio", "estimate"] == pytest.approx(rr)
    assert res.loc["risk_ratio", "ci_low"] == pytest.approx(rr * np.exp(-1.959964 * se_rr), rel=1e-5)
    odds, se_or = (56 * 32) / (14 * 48), np.sqrt(1 / 56 + 1 / 14 + 1 / 48 + 1 / 32)
    assert res.loc["odds_ratio", "estimate"] == pytest.approx(odds)
    assert res.loc["odds_ratio", "ci_high"] == pytest.approx(odds * np.exp(1.959964 * se_or), rel=1e-5)


def test_clustered_effect_sizes_use_the_cluster_bootstrap() -> None:
    df = clustered(10)
    res = effect_sizes(df, "distress_mean", "condition", cluster="user_id", n_boot=300)
    plain = effect_sizes(df, "distress_mean", "condition")
    assert np.allclose(res.estimate, plain.estimate)
    assert (res.ci_high - res.ci_low > plain.ci_high - plain.ci_low).all()  # users are correlated here
    with pytest.raises(AnalysisInputError, match="needs a 0/1"):
        effect_sizes(df, "distress_mean", "condition", measures=["risk_ratio"])


def test_wilson_matches_the_score_formula_by_hand() -> None:
    df = pd.DataFrame({"g": ["a"] * 263 + ["b"] * 10, "y": [1] * 81 + [0] * 182 + [0] * 10})
    res = wilson(df, "y", by=["g"]).set_index("group")
    n, p, z = 263, 81 / 263, stats.norm.ppf(0.975)
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert res.loc["g=a", "estimate"] == pytest.approx(p)
    assert (res.loc["g=a", "ci_low"], res.loc["g=a", "ci_high"]) == pytest.approx((centre - half, centre + half))
    assert res.loc["g=a", "ci_low"] == pytest.approx(0.2553, abs=1e-4)  # Newcombe (1998) Stat Med 17:857, 81/263
    assert res.loc["g=b", "estimate"] == 0 and res.loc["g=b", "ci_low"] == 0 and res.loc["g=b", "count"] == 0
    with pytest.raises(AnalysisInputError, match="0/1 or boolean"):
        wilson(df.assign(y=df.y * 2), "y")


def test_adjust_pvalues_holm_and_bh_by_hand() -> None:
    res = pd.DataFrame({c: [np.nan] * 5 for c in RESULT_COLUMNS})
    res["p_value"] = [0.01, 0.04, 0.03, 0.02, np.nan]
    holm = adjust_pvalues(res, "holm")
    # Holm: sorted 0.01,0.02,0.03,0.04 times 4,3,2,1 → 0.04, 0.06, 0.06, 0.04 → running max 0.04,0.06,0.06,0.06
    assert holm.p_adjusted.tolist()[:4] == pytest.approx([0.04, 0.06, 0.06, 0.06])
    assert np.isnan(holm.p_adjusted.iloc[4]) and np.isnan(res.p_adjusted).all()
    bh = adjust_pvalues(res, "fdr_bh")  # BH: p·m/rank → 0.04 each, then running min from the top
    assert bh.p_adjusted.tolist()[:4] == pytest.approx([0.04, 0.04, 0.04, 0.04])
    res["contrast"] = ["a", "a", "b", "b", "b"]
    fam = adjust_pvalues(res, "holm", family="contrast")
    assert fam.p_adjusted.tolist()[:4] == pytest.approx([0.02, 0.04, 0.04, 0.04])


def test_expanded_percentile_matches_hesterbergs_formula_and_its_p_value_inverts_it() -> None:
    from welfare.analysis._bootstrap import _alpha_for_tail, expanded_alpha, percentile_summary

    # Hesterberg (2015): percentiles at Φ(-sqrt(n/(n-1)) t_{n-1, 0.975}) instead of 0.025
    g = 12
    expected = 2 * stats.norm.cdf(-np.sqrt(g / (g - 1)) * stats.t.ppf(0.975, g - 1))
    assert expanded_alpha(0.05, g) == pytest.approx(expected)
    assert expanded_alpha(0.05, None) == 0.05 and expanded_alpha(0.05, 2) == 0.05
    assert _alpha_for_tail(expected / 2, g) == pytest.approx(0.05)
    draws = np.random.default_rng(0).normal(1.0, 1.0, 4000)
    _, low, high, _ = percentile_summary(1.0, draws, 0.95, g)
    assert (low, high) == pytest.approx(tuple(np.quantile(draws, [expected / 2, 1 - expected / 2])))


def test_degenerate_comparisons_give_nan_inference_with_a_reason() -> None:
    # a constant outcome: an SE of 0 made OLS report p = 0
    flat = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "y": [0.3] * 8, "u": list("pqrstuvw")})
    for method in ("ols", "bootstrap", "welch"):
        row = compare_arms(flat, "y", "arm", cluster="u" if method != "welch" else None, method=method,
                           n_boot=50).iloc[0]
        assert row.estimate == 0 and np.isnan(row.p_value) and np.isnan(row.ci_low) and "constant" in row.method
    # one cluster per arm: cluster-robust and bootstrap SEs are near zero, so p would read as certainty
    one = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "y": [0.0, 1, 0, 1, 2, 3, 2, 2.5], "u": ["p"] * 4 + ["q"] * 4})
    for method in ("ols", "bootstrap"):
        row = compare_arms(one, "y", "arm", cluster="u", method=method, n_boot=50).iloc[0]
        assert row.estimate == pytest.approx(1.875) and np.isnan(row.p_value) and "fewer than two clusters" in row.method


def test_numeric_zero_one_arms_are_not_read_as_booleans() -> None:
    df = pd.DataFrame({"pair": [1, 1, 2, 2, 3, 3], "arm": [0, 1] * 3, "y": [1.0, 2, 2, 4, 3, 3.5]})
    assert compare_arms(df, "y", "arm", method="welch").contrast.tolist() == ["1 - 0"]
    assert paired_effect(df, "y", "arm", "pair", method="ttest").estimate.iloc[0] == pytest.approx(7 / 6)
    flags = df.assign(arm=df.arm.astype(bool))
    assert compare_arms(flags, "y", "arm", method="welch").contrast.tolist() == ["True - False"]


def test_welch_se_wilson_bounds_and_effect_sizes_at_the_edges() -> None:
    same = pd.DataFrame({"arm": ["a"] * 3 + ["b"] * 3, "y": [0.0, 1, 2, 2, 1, 0]})
    row = compare_arms(same, "y", "arm", method="welch").iloc[0]
    assert row.estimate == 0 and row.se == pytest.approx(np.sqrt(1 / 3 + 1 / 3))  # was NaN at a zero estimate
    for count, n in ((0, 3), (10, 10)):
        w = wilson(pd.DataFrame({"y": [1] * count + [0] * (n - count)}), "y").iloc[0]
        assert w.ci_low <= w.estimate <= w.ci_high
    none = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "y": [0, 0, 0, 0, 1, 1, 1, 0]})  # no events in one arm
    sizes = effect_sizes(none, "y", "arm").set_index(pd.Index(["rd", "rr", "or"]))
    assert sizes.loc["rd", "estimate"] == 0.75 and np.isfinite(sizes.loc["rd", "ci_low"])
    assert np.isnan(sizes.loc["rr", "ci_low"]) and "no events or only events" in sizes.loc["or", "method"]


def test_adjust_pvalues_refuses_values_that_are_not_probabilities() -> None:
    res = pd.DataFrame({"p_value": [0.01, 1.2], "p_adjusted": [np.nan, np.nan]})
    with pytest.raises(AnalysisInputError, match="between 0 and 1"):
        adjust_pvalues(res)
    text = pd.DataFrame({"p_value": ["0.01", "0.04"], "p_adjusted": [np.nan, np.nan]})  # numbers as text are read
    assert adjust_pvalues(text).p_adjusted.tolist() == pytest.approx([0.02, 0.04])


def test_paired_effect_names_a_missing_cluster() -> None:
    df = pd.DataFrame({"pair": [1, 1, 2, 2, 3, 3], "arm": ["a", "b"] * 3, "y": [1.0, 2, 2, 4, 3, 3.5],
                       "u": ["p", "p", None, None, "q", "q"]})
    with pytest.raises(AnalysisInputError, match="cluster column 'u' is missing for pair 2"):
        paired_effect(df, "y", "arm", "pair", cluster="u")


def test_ols_refuses_a_covariate_collinear_with_the_arm() -> None:
    df = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "y": [0.0, 1, 0, 1, 2, 3, 2, 2.5],
                       "model": ["m1"] * 4 + ["m2"] * 4})  # the model differs exactly by arm
    with pytest.raises(AnalysisInputError, match="collinear"):
        compare_arms(df, "y", "arm", method="ols", covariates=["model"])
