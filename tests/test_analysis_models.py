"""Regression, mixed model, GEE and before/after estimators, pinned against closed forms computed by hand."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from welfare.analysis import RESULT_COLUMNS, AnalysisInputError, before_after, gee, mixed, regress


def users(seed: int = 0, n_users: int = 40, per_user: int = 5) -> pd.DataFrame:
    """Balanced: each user in one arm, the same number of conversations per user."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        arm = "tool" if u % 2 else "baseline"
        effect = rng.normal()
        for c in range(per_user):
            y = effect + rng.normal() + 0.4 * (arm == "tool")
            rows.append({"user_id": f"u{u}", "condition": arm, "distress_mean": y, "conv": c,
                         "ended": int(y > 0.5), "refusals": int(rng.poisson(np.exp(0.3 + 0.5 * (arm == "tool"))))})
    return pd.DataFrame(rows)


def cr_by_hand(y: np.ndarray, x: np.ndarray, groups: np.ndarray, small_sample: bool) -> tuple[np.ndarray, np.ndarray]:
    n, k = x.shape
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ y
    resid = y - x @ beta
    meat = sum(np.outer(x[groups == g].T @ resid[groups == g], x[groups == g].T @ resid[groups == g])
               for g in np.unique(groups))
    g_count = np.unique(groups).size
    factor = g_count / (g_count - 1) * (n - 1) / (n - k) if small_sample else 1.0
    return beta, np.sqrt(np.diag(bread @ meat @ bread * factor))


def test_linear_regression_cluster_robust_matches_hand_sandwich() -> None:
    df = users()
    res = regress(df, "distress_mean ~ C(condition)", cluster="user_id")
    assert tuple(res.columns) == RESULT_COLUMNS
    row = res.iloc[0]
    x = np.column_stack([np.ones(len(df)), (df.condition == "tool").to_numpy(float)])
    beta, se = cr_by_hand(df.distress_mean.to_numpy(), x, df.user_id.to_numpy(), small_sample=True)
    assert row.contrast == "C(condition)[T.tool]" and row.outcome == "distress_mean"
    assert (row.estimate, row.se) == pytest.approx((beta[1], se[1]))
    q = stats.t.ppf(0.975, 39)
    assert row.ci_high == pytest.approx(beta[1] + q * se[1])
    assert row.n_clusters == 40 and row.n_obs == 200


def test_logistic_with_one_binary_regressor_is_the_log_odds_ratio_with_woolf_se() -> None:
    df = users(1)
    res = regress(df, "ended ~ C(condition)", family="logistic").iloc[0]
    tab = pd.crosstab(df.condition, df.ended)
    a, b = tab.loc["tool", 1], tab.loc["tool", 0]
    c, d = tab.loc["baseline", 1], tab.loc["baseline", 0]
    assert res.estimate == pytest.approx(np.log(a * d / (b * c)), rel=1e-6)
    assert res.se == pytest.approx(np.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-5)
    exp = regress(df, "ended ~ C(condition)", family="logistic", exponentiate=True).iloc[0]
    assert exp.estimate == pytest.approx(a * d / (b * c), rel=1e-6)
    assert exp.ci_low == pytest.approx(np.exp(res.ci_low)) and exp.p_value == pytest.approx(res.p_value)


def test_poisson_with_one_binary_regressor_is_the_log_rate_ratio() -> None:
    df = users(2)
    res = regress(df, "refusals ~ C(condition)", family="poisson").iloc[0]
    s_t = df.refusals[df.condition == "tool"].sum()
    s_c = df.refusals[df.condition == "baseline"].sum()
    assert res.estimate == pytest.approx(np.log(s_t / s_c), rel=1e-6)  # equal exposure per arm
    assert res.se == pytest.approx(np.sqrt(1 / s_t + 1 / s_c), rel=1e-5)
    nb = regress(df, "refusals ~ C(condition)", family="negbin", cluster="user_id")
    assert list(nb.contrast) == ["C(condition)[T.tool]"]  # the dispersion row is not reported
    assert nb.estimate.iloc[0] == pytest.approx(res.estimate, rel=0.05)


def test_negative_binomial_with_one_binary_regressor_matches_first_principles() -> None:
    # NB2 with a group indicator fits each group's mean exactly (the score equations for the log means do not
    # involve the dispersion), so the coefficient is the log ratio of the means; the dispersion is the maximum of
    # the profile likelihood at those means, and the model-based variance of a log mean is (1 + a mu) / (n mu).
    from scipy import optimize, special

    rng = np.random.default_rng(11)
    alpha_true, n = 0.8, 400
    arm = np.repeat(["baseline", "tool"], n)
    mu_true = np.where(arm == "tool", 3.0, 1.5)
    y = rng.negative_binomial(1 / alpha_true, 1 / (1 + alpha_true * mu_true))
    df = pd.DataFrame({"refusals": y, "condition": arm, "user_id": [f"u{k}" for k in range(2 * n)]})
    res = regress(df, "refusals ~ C(condition)", family="negbin").iloc[0]
    m_t, m_c = y[arm == "tool"].mean(), y[arm == "baseline"].mean()
    assert res.estimate == pytest.approx(np.log(m_t / m_c), rel=1e-5)
    mu = np.where(arm == "tool", m_t, m_c)

    def negloglik(log_a: float) -> float:
        r = np.exp(-log_a)  # size = 1 / alpha
        return -float(np.sum(special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1)
                             + r * np.log(r / (r + mu)) + y * np.log(mu / (r + mu))))

    a = float(np.exp(optimize.minimize_scalar(negloglik, bounds=(-5, 3), method="bounded",
                                              options={"xatol": 1e-10}).x))
    assert a == pytest.approx(alpha_true, rel=0.25)  # the data are NB2 with alpha 0.8
    se = np.sqrt((1 + a * m_t) / (n * m_t) + (1 + a * m_c) / (n * m_c))
    assert res.se == pytest.approx(se, rel=2e-3)
    poisson_se = regress(df, "refusals ~ C(condition)", family="poisson").iloc[0].se
    assert res.se > 1.3 * poisson_se  # overdispersion widens the interval


@pytest.mark.filterwarnings("ignore:The Hessian matrix")
def test_mixed_model_on_balanced_clusters_equals_the_t_test_on_cluster_means() -> None:
    # Classical result: balanced random-intercept model with a cluster-level treatment; the REML GLS estimate
    # is the difference in means and its SE is that of the two-sample t-test on cluster means.
    df = users(3)
    res = mixed(df, "distress_mean ~ C(condition)", "user_id").iloc[0]
    means = df.groupby("user_id").agg(y=("distress_mean", "mean"), arm=("condition", "first"))
    t, c = means.y[means.arm == "tool"], means.y[means.arm == "baseline"]
    pooled = ((t.size - 1) * t.var() + (c.size - 1) * c.var()) / (t.size + c.size - 2)
    assert res.estimate == pytest.approx(t.mean() - c.mean(), rel=1e-6)
    assert res.se == pytest.approx(np.sqrt(pooled * (1 / t.size + 1 / c.size)), rel=1e-3)
    assert res.n_clusters == 40
    nested = mixed(df, "distress_mean ~ C(condition)", "user_id", nested="conv")
    assert nested.estimate.iloc[0] == pytest.approx(res.estimate, rel=1e-3)


def test_gee_on_balanced_clusters_matches_the_cr0_sandwich() -> None:
    df = users(4)
    res = gee(df, "distress_mean ~ C(condition)", "user_id").iloc[0]
    x = np.column_stack([np.ones(len(df)), (df.condition == "tool").to_numpy(float)])
    beta, se = cr_by_hand(df.distress_mean.to_numpy(), x, df.user_id.to_numpy(), small_sample=False)
    assert res.estimate == pytest.approx(beta[1], rel=1e-6)
    assert res.se == pytest.approx(se[1], rel=1e-4)
    ind = gee(df, "distress_mean ~ C(condition)", "user_id", cov_struct="independence").iloc[0]
    assert ind.se == pytest.approx(se[1], rel=1e-6)


def test_before_after_with_user_fixed_effects_is_the_within_estimator() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for u in range(30):
        level = rng.normal(scale=2)
        for day in range(1, 9):
            rows.append({"user_id": f"u{u}", "model": "m1" if u % 3 else "m2",
                         "started_at": f"2026-03-{day:02d}T12:00:00Z",
                         "distress_mean": level + rng.normal() - 0.5 * (day >= 5)})
    df = pd.DataFrame(rows)
    res = before_after(df, "distress_mean", rollout="2026-03-05", adjust=()).iloc[0]
    after = (pd.to_datetime(df.started_at) >= pd.Timestamp("2026-03-05", tz="UTC")).astype(float)
    y_w = df.distress_mean - df.groupby("user_id").distress_mean.transform("mean")  # Frisch–Waugh–Lovell
    a_w = after - after.groupby(df.user_id).transform("mean")
    assert res.contrast == "after - before"
    assert res.estimate == pytest.approx(float((a_w * y_w).sum() / (a_w**2).sum()))
    assert res.ci_low < -0.5 < res.ci_high and res.n_clusters == 30
    by_flag = before_after(df.assign(late=after.astype(bool)), "distress_mean", period="late", adjust=("model",))
    assert by_flag.estimate.iloc[0] == pytest.approx(res.estimate)  # model is constant within user
    assert "model constant within user_id: absorbed" in by_flag.method.iloc[0]


def test_model_errors_are_clear() -> None:
    df = users()
    with pytest.raises(AnalysisInputError, match="formula must be a string"):
        regress(df, "distress_mean")
    with pytest.raises(AnalysisInputError, match="family must be one of"):
        regress(df, "distress_mean ~ condition", family="gamma")  # type: ignore[arg-type]
    with pytest.raises(AnalysisInputError, match="cannot build the model"):
        regress(df, "distress_mean ~ no_such_column")
    with pytest.raises(AnalysisInputError, match="period=<boolean column> or rollout"):
        before_after(df, "distress_mean")


def test_gee_with_a_boolean_outcome_models_true_not_false() -> None:
    df = users()
    as_bool = gee(df.assign(ended=df["ended"].astype(bool)), "ended ~ C(condition)", "user_id", family="logistic")
    as_int = gee(df, "ended ~ C(condition)", "user_id", family="logistic")
    assert as_bool["outcome"].item() == "ended"
    assert as_bool["estimate"].item() == pytest.approx(as_int["estimate"].item(), rel=1e-9)
    assert as_bool["estimate"].item() > 0  # the tool arm ends more often in users()
    with pytest.raises(AnalysisInputError, match="ended"):
        gee(df.assign(ended=df["ended"].map({0: "no", 1: "yes"})), "ended ~ C(condition)", "user_id")


def _periods(after: list[bool], n_users: int = 8, seed: int = 0) -> pd.DataFrame:
    per = len(after)
    return pd.DataFrame({"user_id": np.repeat(np.arange(n_users), per), "model": "m",
                         "y": np.random.default_rng(seed).normal(size=n_users * per),
                         "after": np.tile(after, n_users)})


def test_before_after_without_within_user_variation_is_not_estimable() -> None:
    df = _periods([False] * 4)
    df["after"] = df["user_id"] >= 4  # every user seen in one period only
    res = before_after(df, "y", period="after")
    assert np.isnan(res["estimate"].item()) and np.isnan(res["p_value"].item())
    assert "not estimable" in res["method"].item()


def test_before_after_period_must_be_boolean_or_zero_one() -> None:
    df = _periods([False, False, True, True])
    base = before_after(df, "y", period="after")["estimate"].item()
    assert before_after(df.assign(after=df["after"].astype(int)), "y", period="after")["estimate"].item() == \
        pytest.approx(base, rel=1e-12)
    with pytest.raises(AnalysisInputError, match="after"):
        before_after(df.assign(after=df["after"] * 2), "y", period="after")
    with pytest.raises(AnalysisInputError, match="after"):
        before_after(df.assign(after=df["after"].map({True: "after", False: "before"})), "y", period="after")


def test_before_after_with_one_user_reports_the_estimate_without_a_cluster_se() -> None:
    df = _periods([False, False, True, True], n_users=1)
    res = before_after(df, "y", period="after")
    y = df["y"].to_numpy()
    assert res["estimate"].item() == pytest.approx(y[2:].mean() - y[:2].mean(), rel=1e-9)
    assert np.isnan(res["se"].item()) and np.isnan(res["p_value"].item())
    assert "one cluster" in res["method"].item()


def test_mixed_and_gee_refuse_a_missing_cluster_id() -> None:
    df = users()
    df.loc[df.index[::4], "user_id"] = np.nan
    missing = int(df["user_id"].isna().sum())
    for fn in (mixed, gee):
        with pytest.raises(AnalysisInputError, match=rf"user_id.*{missing} of {len(df)}"):
            fn(df, "distress_mean ~ C(condition)", "user_id")


def test_mixed_ignores_an_unused_category_level() -> None:
    df = users()
    full = mixed(df, "distress_mean ~ C(condition)", "user_id")
    cat = df.assign(condition=pd.Categorical(df["condition"], ["baseline", "tool", "never_run"]))
    res = mixed(cat, "distress_mean ~ C(condition)", "user_id")
    assert res["estimate"].item() == pytest.approx(full["estimate"].item(), rel=1e-6)


def _one_treated_user(treated: str, seed: int = 7) -> pd.DataFrame:
    """Eleven users of four conversations: ``treated`` is the arm of user u0 alone; the other users alternate
    between arms A and C, so A and C each have five clusters."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(11):
        arm = treated if u == 0 else ("A" if u % 2 else "C")
        for _ in range(4):
            rows.append({"user_id": f"u{u}", "condition": arm, "x": rng.normal(), "y": rng.normal() + (u == 0)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("estimator", ["regress", "gee"])
def test_a_level_seen_in_one_cluster_has_no_robust_se(estimator: str) -> None:
    # The level B coefficient is fitted by user u0 alone, so u0's residuals sum to zero and the sandwich drops u0's
    # variance: the SE came out from the A users only and p near 0. The C coefficient keeps its sandwich SE.
    df = _one_treated_user("B")
    fit = {"regress": lambda f: regress(df, f, cluster="user_id"), "gee": lambda f: gee(df, f, "user_id")}[estimator]
    res = fit("y ~ C(condition) + x").set_index("contrast")
    b = res.loc["C(condition)[T.B]"]
    assert np.isfinite(b.estimate) and b.estimate > 0.5
    assert np.isnan(b.se) and np.isnan(b.ci_low) and np.isnan(b.ci_high) and np.isnan(b.p_value)
    assert "no robust SE" in b.method and "without user_id 'u0'" in b.method
    for term in ("C(condition)[T.C]", "x"):
        assert np.isfinite(res.loc[term, "se"]) and res.loc[term, "se"] > 0
        assert "no robust SE" not in res.loc[term, "method"]
    if estimator == "regress":  # the untouched rows are still the CR1 sandwich
        x = np.column_stack([np.ones(len(df)), df.condition == "B", df.condition == "C", df.x]).astype(float)
        _, se = cr_by_hand(df.y.to_numpy(), x, df.user_id.to_numpy(), small_sample=True)
        assert res.loc["C(condition)[T.C]", "se"] == pytest.approx(se[2], rel=1e-9)
        assert res.loc["x", "se"] == pytest.approx(se[3], rel=1e-9)


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")  # statsmodels' GEE SE
@pytest.mark.parametrize("estimator", ["regress", "gee"])
def test_a_reference_arm_with_one_cluster_leaves_no_contrast_with_a_robust_se(estimator: str) -> None:
    # One user in the reference arm: every contrast against it rests on that user, on the other side of the dummy.
    df = _one_treated_user("0_ref")
    res = (regress(df, "y ~ C(condition)", cluster="user_id") if estimator == "regress"
           else gee(df, "y ~ C(condition)", "user_id"))
    assert len(res) == 2 and res["se"].isna().all() and res["p_value"].isna().all()
    assert res["method"].str.contains("without user_id 'u0'").all()
    means = df.groupby("condition")["y"].mean()
    assert res.set_index("contrast").loc["C(condition)[T.C]", "estimate"] == pytest.approx(means["C"] - means["0_ref"])


def test_one_user_per_arm_has_no_robust_se_in_regress_or_gee() -> None:
    # Two conversations per user, one user per arm: CR1 gave an SE of about 1e-16 and GEE exactly 0, both with p = 0.
    df = pd.DataFrame({"user_id": ["a", "a", "b", "b"], "condition": ["base", "base", "tool", "tool"],
                       "y": [0.1, 0.7, 1.2, 2.0]})
    for res in (regress(df, "y ~ C(condition)", cluster="user_id"),
                gee(df, "y ~ C(condition)", "user_id", cov_struct="independence")):
        assert res["estimate"].item() == pytest.approx(1.2)
        assert np.isnan(res["se"].item()) and np.isnan(res["p_value"].item())
        assert "fewer than two clusters" in res["method"].item()
    model_based = regress(df, "y ~ C(condition)")  # no cluster asked: the usual OLS SE, nothing blanked
    assert np.isfinite(model_based["se"].item())


def test_user_fixed_effects_clustered_on_user_flag_each_user_quickly() -> None:
    # One dummy per user, clustered on user: every user dummy rests on one user, while the arm varies within users and keeps its SE. The check did an r x r eigendecomposition per
    # user (about users^4 in all: 48 s at 600 users); it now works from each user's own rows.
    n_users = 300
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"user": np.repeat([f"u{i:03d}" for i in range(n_users)], 6),
                       "arm": np.tile(["a", "b", "b", "a", "a", "b"], n_users)})
    df["y"] = rng.normal(size=len(df)) + 0.5 * (df.arm == "b")
    started = time.perf_counter()
    res = regress(df, "y ~ C(arm) + C(user)", cluster="user", terms=["Intercept", "C("]).set_index("contrast")
    elapsed = time.perf_counter() - started
    blank = set(res.index[res["se"].isna()])
    assert blank == {"Intercept", *(f"C(user)[T.u{i:03d}]" for i in range(1, n_users))}  # intercept: user u000
    # u007's dummy is u007's mean less the reference user's: it needs both u000 and u007; the first is named
    assert res.loc["C(user)[T.u007]", "method"].endswith("cannot be estimated without user 'u000', "
                                                         "so fewer than two clusters inform it")
    assert "without user 'u000'" in res.loc["Intercept", "method"]
    arm = res.loc["C(arm)[T.b]"]
    assert np.isfinite(arm.se) and arm.se > 0 and "no robust SE" not in arm.method
    assert elapsed < 20  # generous: about 1 s here, over a minute before


def test_two_clusters_per_arm_keep_the_robust_se() -> None:
    df = pd.DataFrame({"user_id": list("aabbccdd"), "condition": ["base"] * 4 + ["tool"] * 4,
                       "y": [0.1, 0.7, 0.3, 0.2, 1.2, 2.0, 0.9, 1.6]})
    res = regress(df, "y ~ C(condition)", cluster="user_id")
    x = np.column_stack([np.ones(8), (df.condition == "tool").to_numpy(float)])
    _, se = cr_by_hand(df.y.to_numpy(), x, df.user_id.to_numpy(), small_sample=True)
    assert res["se"].item() == pytest.approx(se[1], rel=1e-9)
    assert "no robust SE" not in res["method"].item()
