"""Agreement statistics pinned against scipy/statsmodels or independent computations written here."""

from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa
from statsmodels.stats.proportion import proportion_confint

from welfare.validation import (
    RESULT_COLUMNS,
    ValidationInputError,
    accuracy,
    agreement,
    auroc,
    calibration_table,
    cohens_kappa,
    confusion_matrix,
    macro_f1,
    pair_ranking,
    per_class,
    plot_calibration,
    plot_confusion,
    results_frame,
    wilson_interval,
)

RNG = np.random.default_rng(7)
TRUE = RNG.choice(["full", "partial", "compliance"], size=300, p=[0.45, 0.1, 0.45])
PRED = np.where(RNG.random(300) < 0.8, TRUE, RNG.choice(["full", "partial", "compliance"], size=300))


def test_accuracy_and_wilson_match_statsmodels() -> None:
    est = accuracy(TRUE, PRED)
    hits = int(np.sum(TRUE == PRED))
    # expected: statsmodels' Wilson interval for the same count
    low, high = proportion_confint(hits, 300, alpha=0.05, method="wilson")
    assert est.estimate == pytest.approx(hits / 300)
    assert (est.ci_low, est.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert est.n == 300 and est.method.startswith("wilson")
    assert wilson_interval(0, 20)[0] == 0.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_kappa_matches_statsmodels() -> None:
    cm = confusion_matrix(TRUE, PRED).to_numpy()
    # expected: statsmodels.stats.inter_rater.cohens_kappa on the same contingency table
    expected = sm_kappa(cm).kappa
    est = cohens_kappa(TRUE, PRED, n_boot=500)
    assert est.estimate == pytest.approx(expected, abs=1e-12)
    assert est.ci_low < est.estimate < est.ci_high
    # seeded: identical on a second call, different with another seed
    assert cohens_kappa(TRUE, PRED, n_boot=500) == est
    assert cohens_kappa(TRUE, PRED, n_boot=500, seed=1).ci_low != est.ci_low


def test_kappa_undefined_when_one_label_throughout() -> None:
    assert math.isnan(cohens_kappa(["a", "a"], ["a", "a"]).estimate)


def _f1_by_hand(t: np.ndarray, p: np.ndarray, lab: str) -> float:
    tp = sum(1 for a, b in zip(t, p, strict=True) if a == lab and b == lab)
    fp = sum(1 for a, b in zip(t, p, strict=True) if a != lab and b == lab)
    fn = sum(1 for a, b in zip(t, p, strict=True) if a == lab and b != lab)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return 2 * prec * rec / (prec + rec) if prec + rec else 0.0


def test_macro_f1_and_per_class_against_hand_computation() -> None:
    labels = ["compliance", "full", "partial"]
    expected = {lab: _f1_by_hand(TRUE, PRED, lab) for lab in labels}
    est = macro_f1(TRUE, PRED, n_boot=300)
    assert est.estimate == pytest.approx(np.mean(list(expected.values())))
    rows = {e.statistic: e for e in per_class(TRUE, PRED, n_boot=300)}
    for lab in labels:
        assert rows[f"f1[{lab}]"].estimate == pytest.approx(expected[lab])
        tp = np.sum((lab == TRUE) & (lab == PRED))
        assert rows[f"precision[{lab}]"].estimate == pytest.approx(tp / np.sum(lab == PRED))
        assert rows[f"recall[{lab}]"].estimate == pytest.approx(tp / np.sum(lab == TRUE))
        assert rows[f"recall[{lab}]"].n == np.sum(lab == TRUE)


def test_macro_f1_fixed_labels_counts_never_predicted_class_as_zero() -> None:
    t, p = ["a", "a", "b", "c"], ["a", "a", "b", "b"]
    # c is present but never predicted: F1 = 0 → (1 + 2/3 + 0) / 3
    assert macro_f1(t, p).estimate == pytest.approx((1 + 2 / 3 + 0) / 3)
    # a label in neither list is left out of the mean
    assert macro_f1(t, p, labels=["a", "b", "c", "d"]).estimate == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_missing_pairs_dropped_and_empty_gives_nan() -> None:
    est = accuracy(["a", None, "b", float("nan")], ["a", "b", None, "b"])
    assert est.n == 1 and est.estimate == 1.0
    empty = macro_f1([], [])
    assert empty.n == 0 and math.isnan(empty.estimate)
    assert math.isnan(accuracy([], []).estimate)
    assert math.isnan(auroc([1, 1], [0.2, 0.3]).estimate)  # no negatives


def test_bad_input_raises_value_errors_with_guidance() -> None:
    with pytest.raises(ValidationInputError, match="same order"):
        accuracy([1, 2], [1])
    with pytest.raises(ValidationInputError, match="not among labels"):
        macro_f1(["a"], ["z"], labels=["a"])
    with pytest.raises(ValidationInputError, match="positive="):
        auroc(["x", "y"], [0.1, 0.2])
    with pytest.raises(ValidationInputError, match="method"):
        auroc([0, 1], [0.1, 0.2], method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="confidence"):
        accuracy([1], [1], confidence=95)


def _delong_by_hand(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """Pairwise kernel psi = 1, 1/2, 0 (DeLong et al. 1988 eq. for V10, V01), O(m n)."""
    psi = np.array([[1.0 if x > y else 0.5 if x == y else 0.0 for y in neg] for x in pos])
    auc = psi.mean()
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return auc, v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def test_auroc_with_ties_matches_mann_whitney_and_delong_by_hand() -> None:
    y = RNG.integers(0, 2, size=200)
    score = np.round(RNG.normal(y * 0.8, 1.0), 1)  # rounding makes many ties
    pos, neg = score[y == 1], score[y == 0]
    # expected: scipy's Mann–Whitney U of positives vs negatives, divided by n_pos * n_neg
    u = stats.mannwhitneyu(pos, neg).statistic
    est = auroc(y, score)
    assert est.estimate == pytest.approx(u / (pos.size * neg.size))
    auc, var = _delong_by_hand(pos, neg)
    z = stats.norm.ppf(0.975)
    assert est.estimate == pytest.approx(auc)
    assert (est.ci_low, est.ci_high) == pytest.approx((auc - z * math.sqrt(var), auc + z * math.sqrt(var)))


def test_auroc_hanley_mcneil_and_bootstrap() -> None:
    y = np.array([1] * 30 + [0] * 50)
    score = np.concatenate([RNG.normal(1, 1, 30), RNG.normal(0, 1, 50)])
    hm = auroc(y, score, method="hanley_mcneil")
    a = hm.estimate
    # expected: Hanley & McNeil (1982) eq. 2 with Q1 = A/(2-A), Q2 = 2A²/(1+A)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt((a * (1 - a) + 29 * (q1 - a * a) + 49 * (q2 - a * a)) / (30 * 50))
    assert hm.ci_high - hm.ci_low == pytest.approx(2 * stats.norm.ppf(0.975) * se)
    boot = auroc(y, score, method="bootstrap", n_boot=300)
    assert boot.estimate == a and boot.ci_low < a < boot.ci_high
    assert auroc(["r", "c", "r"], [0.9, 0.1, 0.8], positive="r").estimate == 1.0
    assert auroc([1, 0], [0.0, 1.0]).estimate == 0.0


def test_pair_ranking_sums_to_one() -> None:
    a, b = RNG.integers(0, 3, 50), RNG.integers(0, 3, 50)
    ests = pair_ranking(a, b, names=("chosen", "rejected"))
    assert [e.statistic for e in ests] == ["chosen_higher", "tie", "rejected_higher"]
    assert sum(e.estimate for e in ests) == pytest.approx(1.0)
    assert ests[1].estimate == pytest.approx(np.mean(a == b))


def test_results_frame_has_fixed_columns_and_concatenates() -> None:
    df1 = agreement(TRUE, PRED, dataset="toy", subset="all", metric="refusal", n_boot=100)
    df2 = results_frame([auroc([0, 1, 1], [0.1, 0.5, 0.7]).row("toy", "all", "refusal_score")])
    assert tuple(df1.columns) == RESULT_COLUMNS == tuple(df2.columns)
    assert df1["statistic"].tolist()[:3] == ["accuracy", "cohens_kappa", "macro_f1"]
    assert len(df1) == 3 + 3 * 3
    both = results_frame([*df1.to_dict("records"), *df2.to_dict("records")])
    assert both["estimate"].dtype == float and len(both) == len(df1) + 1


def test_confusion_matrix_orientation() -> None:
    cm = confusion_matrix(["a", "a", "b"], ["b", "a", "b"], labels=["a", "b"])
    assert cm.loc["a", "b"] == 1 and cm.loc["b", "a"] == 0 and cm.index.name == "true"


def test_calibration_table_bins() -> None:
    prob = np.array([0.05, 0.07, 0.5, 0.95, 1.0])
    y = np.array([0, 1, 1, 1, 1])
    table = calibration_table(y, prob, bins=10)
    assert table["n"].sum() == 5 and table.loc[0, "n"] == 2 and table.loc[9, "n"] == 2
    assert table.loc[0, "observed"] == 0.5 and math.isnan(table.loc[3, "observed"])
    with pytest.raises(ValidationInputError, match=r"\[0, 1\]"):
        calibration_table([0, 1], [0.2, 3.0])


@pytest.mark.parametrize("normalize", ["none", "true"])
def test_plots_return_axes(normalize: str) -> None:
    ax = plot_confusion(TRUE, PRED, normalize=normalize)  # type: ignore[arg-type]
    assert len(ax.texts) == 9
    _fig, given = plt.subplots()
    assert plot_calibration(TRUE == "full", np.clip(RNG.random(300), 0, 1), ax=given) is given
    plt.close("all")


def test_bootstrap_interval_covers_truth_reasonably() -> None:
    # a coarse coverage check: 40 samples of size 200 with true kappa ~ known; most intervals contain it
    truth_t = np.repeat(["a", "b"], 5000)
    truth_p = np.where(np.random.default_rng(3).random(10000) < 0.8, truth_t, np.where(truth_t == "a", "b", "a"))
    population = sm_kappa(confusion_matrix(truth_t, truth_p).to_numpy()).kappa
    hits = 0
    rng = np.random.default_rng(11)
    for _ in range(40):
        idx = rng.integers(0, 10000, 200)
        e = cohens_kappa(truth_t[idx], truth_p[idx], n_boot=300)
        hits += e.ci_low <= population <= e.ci_high
    assert hits >= 33


def test_labels_may_be_any_hashable() -> None:
    combos = list(itertools.product([0, 1], repeat=2))
    t = [a for a, _ in combos]
    p = [b for _, b in combos]
    assert accuracy(t, p).estimate == 0.5
