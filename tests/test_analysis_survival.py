"""Survival estimators pinned against the 6-MP leukaemia remission data (Freireich et al. 1963), the textbook
example of Kleinbaum & Klein, *Survival Analysis* (3rd ed.), chapters 2-3."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from welfare.analysis import RESULT_COLUMNS, AnalysisInputError, cox, kaplan_meier, logrank, time_to_event

MP_TIMES = [6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
MP_EVENT = [1] * 9 + [0] * 12
PLACEBO_TIMES = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


@pytest.fixture
def leukaemia() -> pd.DataFrame:
    return pd.DataFrame({
        "weeks": MP_TIMES + PLACEBO_TIMES,
        "relapse": MP_EVENT + [1] * 21,
        "rx": ["6-MP"] * 21 + ["placebo"] * 21,
        "site": [f"s{i // 3}" for i in range(42)],
    })


def test_kaplan_meier_matches_the_textbook_table_and_greenwood(leukaemia: pd.DataFrame) -> None:
    res = kaplan_meier(leukaemia, "weeks", "relapse", group="rx")
    assert tuple(res.columns[:11]) == RESULT_COLUMNS
    mp = res[res.group == "rx=6-MP"].set_index("time")
    # Kleinbaum & Klein table 2.2: S(t) for the 6-MP group
    assert mp.estimate.round(4).tolist() == [0.8571, 0.8067, 0.7529, 0.6902, 0.6275, 0.5378, 0.4482]
    assert mp.n_at_risk.tolist() == [21, 17, 15, 12, 11, 7, 6]
    # Greenwood at t=6 by hand: S^2 * d/(n(n-d)) with n=21, d=3
    s6 = 18 / 21
    assert mp.loc[6.0, "se"] == pytest.approx(np.sqrt(s6**2 * 3 / (21 * 18)))
    z = stats.norm.ppf(0.975)  # complementary log-log interval by hand
    theta_se = mp.loc[6.0, "se"] / (s6 * abs(np.log(s6)))
    assert mp.loc[6.0, "ci_low"] == pytest.approx(np.exp(-np.exp(np.log(-np.log(s6)) + z * theta_se)))
    defined = res.dropna(subset=["ci_low"])
    assert (defined.ci_low <= defined.estimate).all() and (defined.estimate <= defined.ci_high).all()
    placebo = res[res.group == "rx=placebo"]
    assert placebo.estimate.iloc[-1] == 0 and np.isnan(placebo.ci_low.iloc[-1])


def test_logrank_matches_the_textbook_chi_square(leukaemia: pd.DataFrame) -> None:
    res = logrank(leukaemia, "weeks", "relapse", "rx").iloc[0]
    assert res.statistic == pytest.approx(16.79, abs=0.005)  # Kleinbaum & Klein ch. 2: log-rank 16.79
    assert res.p_value == pytest.approx(stats.chi2.sf(res.statistic, 1))
    assert res.contrast == "6-MP vs placebo" and np.isnan(res.estimate)


def test_logrank_without_any_event_is_undefined_not_an_error(leukaemia: pd.DataFrame) -> None:
    censored = leukaemia.assign(relapse=0)  # e.g. logs in which no arm ever ended a conversation
    res = logrank(censored, "weeks", "relapse", "rx").iloc[0]
    assert np.isnan(res.p_value) and np.isnan(res.statistic) and res.n_obs == 42
    assert "no events" in res.method


def test_logrank_leaves_out_a_group_no_one_at_risk_at_any_event_time(leukaemia: pd.DataFrame) -> None:
    # e.g. an arm whose conversations all stop before the first ending turn: it made statsmodels' variance singular
    early = pd.DataFrame({"weeks": [0.5] * 4, "relapse": [0] * 4, "rx": ["early"] * 4, "site": ["x"] * 4})
    res = logrank(pd.concat([leukaemia, early], ignore_index=True), "weeks", "relapse", "rx").iloc[0]
    two = logrank(leukaemia, "weeks", "relapse", "rx").iloc[0]
    assert res.statistic == pytest.approx(two.statistic) and res.df == 1
    assert "left out, no one at risk at any event time: early" in res.method
    alone = logrank(pd.concat([leukaemia[leukaemia.rx == "6-MP"], early]), "weeks", "relapse", "rx").iloc[0]
    assert np.isnan(alone.p_value) and "fewer than two groups remain" in alone.method


def test_cox_hazard_ratio_matches_the_textbook(leukaemia: pd.DataFrame) -> None:
    res = cox(leukaemia, "weeks", "relapse", "C(rx)").iloc[0]
    # Kleinbaum & Klein ch. 3, model 1 (Breslow ties): coef 1.509, SE 0.410, HR 4.523
    assert res.estimate == pytest.approx(4.523, abs=5e-4)
    assert res.se / res.estimate == pytest.approx(0.410, abs=5e-4)
    efron = cox(leukaemia, "weeks", "relapse", ["C(rx)"], ties="efron", exponentiate=False).iloc[0]
    assert efron.estimate == pytest.approx(1.572, abs=5e-4)  # the Efron-ties fit of the same data: 1.572 (SE 0.412)
    assert efron.se == pytest.approx(0.412, abs=5e-4)
    robust = cox(leukaemia, "weeks", "relapse", "C(rx)", cluster="site").iloc[0]
    assert robust.estimate == pytest.approx(res.estimate) and robust.se != pytest.approx(res.se)
    assert robust.n_clusters == 14


def test_time_to_event_censors_at_the_last_assistant_turn() -> None:
    convs = pd.DataFrame({
        "n_assistant_turns": [5, 3, 8, 4],
        "ended_by": ["assistant", "none", "user", "assistant"],
        "ending_method": ["tool_call", "none", "metadata", "bail_string"],
        "turns_to_first_refusal": [2.0, np.nan, 6.0, np.nan],
    })
    ending = time_to_event(convs, "ending")
    assert ending.observed.tolist() == [True, False, False, True] and ending.duration.tolist() == [5, 3, 8, 4]
    assert time_to_event(convs, "bail").observed.tolist() == [False, False, False, True]
    refusal = time_to_event(convs, "turns_to_first_refusal")
    assert refusal.duration.tolist() == [2, 3, 6, 4] and refusal.observed.tolist() == [True, False, True, False]
    with pytest.raises(AnalysisInputError, match="numeric"):
        time_to_event(convs, "ending_method")


def test_survival_input_errors(leukaemia: pd.DataFrame) -> None:
    with pytest.raises(AnalysisInputError, match="non-negative"):
        kaplan_meier(leukaemia.assign(weeks=-leukaemia.weeks), "weeks", "relapse")
    with pytest.raises(AnalysisInputError, match="boolean or 0/1"):
        logrank(leukaemia.assign(relapse=2), "weeks", "relapse", "rx")


def test_cox_without_events_is_not_estimable_not_an_error(leukaemia: pd.DataFrame) -> None:
    res = cox(leukaemia.assign(relapse=0), "weeks", "relapse", "C(rx)")
    assert len(res) == 1 and res["contrast"].item() == "C(rx)[T.placebo]"
    assert np.isnan(res["estimate"].item()) and np.isnan(res["p_value"].item())
    assert "not estimable: no events" in res["method"].item()


def test_cox_ignores_unused_categories_and_counts_the_rows_it_fitted(leukaemia: pd.DataFrame) -> None:
    base = cox(leukaemia, "weeks", "relapse", "C(rx)")
    cat = leukaemia.assign(rx=pd.Categorical(leukaemia["rx"], ["6-MP", "placebo", "unused"]))
    res = cox(cat, "weeks", "relapse", "C(rx)")
    assert res["estimate"].item() == pytest.approx(base["estimate"].item(), rel=1e-9)
    with_x = leukaemia.assign(x=np.where(np.arange(42) % 7 == 0, np.nan, np.arange(42) % 5))
    fitted = cox(with_x, "weeks", "relapse", "C(rx) + x")
    assert fitted["n_obs"].tolist() == [float(with_x["x"].notna().sum())] * 2
