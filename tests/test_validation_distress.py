"""Distress-signal checks on GoEmotions: label construction and figures on a hand-written toy folder, real data."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from conftest import require_shared, write_goemotions

from welfare.validation import (
    DISTRESS_GROUPS,
    RESULT_COLUMNS,
    ValidationInputError,
    distress_items,
    validate,
    validate_distress,
    validators,
)

ORIGINAL_NAMES = ["remorse", "sadness", "joy", "nervousness", "gratitude", "neutral"]
GROUP_NAMES = ["ambiguous", "negative", "neutral", "positive"]
APOLOGY = "goemotions dev: remorse vs rest"
VALENCE = "goemotions dev, with a state report: positive vs negative group"

# (comment id, text, original label names, group label names); texts written for this test
COMMENTS = [
    ("c1", "I'm so sorry, that was my fault.", ["remorse"], ["negative"]),              # apology 1
    ("c2", "I regret shouting at my brother yesterday.", ["remorse"], ["negative"]),    # remorse, no apology phrase
    ("c3", "My bad, I read the date wrong.", ["neutral"], ["neutral"]),                 # apology 1, not remorse
    ("c4", "I feel happy about the new job.", ["joy"], ["positive"]),                  # state report, valence +1
    ("c5", "I am sad that the shop closed.", ["sadness"], ["negative"]),               # state report, valence -1
    ("c6", "I'm glad you came, but I'm sad you left early.", ["joy", "sadness"],
     ["negative", "positive"]),                                                        # both groups: not compared
    ("c7", "I'd rather not talk about the exam.", ["nervousness"], ["negative"]),      # discomfort
    ("c8", "The bus comes at noon.", ["neutral"], ["neutral"]),
    ("c9", "Thanks for the tip!", ["gratitude"], ["positive"]),
    ("c10", "", ["neutral"], ["neutral"]),                                             # empty: scores NaN, left out
]


def _write_goemotions(root: Path, comments: list[tuple[str, str, list[str], list[str]]] = COMMENTS,
                      group_ids: list[str] | None = None) -> Path:
    return write_goemotions(root, comments, ORIGINAL_NAMES, GROUP_NAMES, group_ids)


def test_distress_items_labels(tmp_path: Path) -> None:
    items = distress_items(_write_goemotions(tmp_path / "ge"))
    assert items["id"].tolist() == [c[0] for c in COMMENTS]
    assert items["remorse"].tolist() == [True, True] + [False] * 8
    assert items["negative"].tolist() == [True, True, False, False, True, True, True, False, False, False]
    assert items["positive"].tolist() == [False, False, False, True, False, True, False, False, True, False]
    assert set(DISTRESS_GROUPS) <= set(items.columns)
    # a comment in both groups, or in neither, is in no class of the valence comparison
    assert items["valence_group"].fillna("-").tolist() == ["negative", "negative", "-", "positive", "negative", "-",
                                                           "negative", "-", "positive", "-"]


def test_distress_items_match_views_by_id(tmp_path: Path) -> None:
    root = _write_goemotions(tmp_path / "ge")
    reversed_lines = [f"{c[1]}\t{','.join(str(GROUP_NAMES.index(n)) for n in c[3])}\t{c[0]}" for c in COMMENTS[::-1]]
    (root / "group" / "dev.tsv").write_text("\n".join(reversed_lines) + "\n", encoding="utf-8")
    items = distress_items(root).set_index("id")
    assert items.loc["c4", "valence_group"] == "positive" and items.loc["c5", "valence_group"] == "negative"


def test_distress_items_bad_views(tmp_path: Path) -> None:
    ids = [c[0] for c in COMMENTS]
    mismatched = _write_goemotions(tmp_path / "a", group_ids=[*ids[:-1], "zz"])
    with pytest.raises(ValidationInputError, match=r"different comments \(2 ids in one view only"):
        distress_items(mismatched)
    dupes = _write_goemotions(tmp_path / "b", group_ids=[*ids[:-1], "c9"])
    with pytest.raises(ValidationInputError, match=r"group/dev\.tsv repeats comment id 'c9'"):
        distress_items(dupes)
    with pytest.raises(ValidationInputError, match=r"GoEmotions file missing: .*original/dev\.tsv"):
        distress_items(tmp_path / "nowhere")


def test_validator_on_toy_folder(tmp_path: Path) -> None:
    root = _write_goemotions(tmp_path / "ge")
    assert "distress" in validators()
    res = validate("distress", root)
    assert list(res.columns) == list(RESULT_COLUMNS) and set(res["dataset"]) == {"distress"}
    got = {(r["subset"], r["metric"], r["statistic"]): r for r in res.to_dict("records")}
    apology = got[(APOLOGY, "apology", "auroc")]
    assert apology["n"] == 9  # the empty comment is left out
    # remorse: c1 (1 apology), c2 (0); rest: c3 (1), six others (0). c1 beats six and ties c3;
    # c2 loses to c3 and ties six: (6 + 0.5 + 0.5 * 6) / (2 * 7)
    assert apology["estimate"] == pytest.approx(9.5 / 14)
    assert apology["method"].startswith("delong")
    remorse, rest = got[("goemotions dev: remorse", "apology", "share_flagged")], \
        got[("goemotions dev: not remorse", "apology", "share_flagged")]
    assert (remorse["estimate"], remorse["n"]) == (0.5, 2)
    assert rest["estimate"] == pytest.approx(1 / 7) and rest["n"] == 7
    assert rest["method"] == "wilson 95%" and 0 < rest["ci_low"] < rest["estimate"] < rest["ci_high"] < 1
    # valence: c4 (+1, positive) vs c5 (-1, negative); c6 has reports but is in both groups
    valence = got[(VALENCE, "state_valence", "auroc")]
    assert (valence["estimate"], valence["n"]) == (1.0, 2)
    assert got[(VALENCE, "vader_compound", "auroc")]["n"] == 2
    # coverage: state reports in c4, c5, c6; discomfort only in c7
    coverage = {(s, m): (r["estimate"], r["n"]) for (s, m, st), r in got.items() if st == "share_flagged"
                and m in ("state_report", "discomfort")}
    assert coverage[("goemotions dev: negative group", "state_report")] == (pytest.approx(2 / 5), 5)
    assert coverage[("goemotions dev: positive group", "state_report")] == (pytest.approx(2 / 3), 3)
    assert coverage[("goemotions dev: neutral group", "state_report")] == (0.0, 2)
    assert coverage[("goemotions dev: ambiguous group", "state_report")][1] == 0
    assert math.isnan(coverage[("goemotions dev: ambiguous group", "state_report")][0])
    assert coverage[("goemotions dev: all", "state_report")] == (pytest.approx(3 / 9), 9)
    assert coverage[("goemotions dev: negative group", "discomfort")] == (pytest.approx(1 / 5), 5)
    assert coverage[("goemotions dev: all", "discomfort")] == (pytest.approx(1 / 9), 9)
    plain = validate_distress(root, vader=False)
    assert not {"vader_neg", "vader_neg_compound", "vader_compound"} & set(plain["metric"])


def test_valence_without_one_class_is_nan(tmp_path: Path) -> None:
    # no negative comment carries a state report: the comparison is undefined, not 0 or 1
    root = _write_goemotions(tmp_path / "ge", [c for c in COMMENTS if c[0] != "c5"])
    res = validate_distress(root, vader=False)
    row = res[(res["subset"] == VALENCE) & (res["metric"] == "state_valence")].iloc[0]
    assert math.isnan(row["estimate"]) and row["n"] == 1 and "one class is empty" in row["method"]


def _raw_dev_counts(folder: Path) -> tuple[int, int]:
    """(remorse comments, all comments) of dev, read straight from the original view's files."""
    names = (folder / "original" / "labels.txt").read_text(encoding="utf-8").split()
    remorse = total = 0
    with open(folder / "original" / "dev.tsv", encoding="utf-8", newline="") as fh:
        for cells in csv.reader(fh, delimiter="\t"):
            total += 1
            remorse += "remorse" in {names[int(i)] for i in cells[1].split(",")}
    return remorse, total


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_distress_validator() -> None:
    goemotions = require_shared("goemotions")
    res = validate_distress(goemotions)
    remorse, total = _raw_dev_counts(goemotions)
    got = {(r["subset"], r["metric"], r["statistic"]): r for r in res.to_dict("records")}
    for r in got.values():
        est, low, high = float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"])
        assert all(math.isfinite(v) for v in (est, low, high)), r
        assert 0.0 <= low <= est <= high <= 1.0, r
    assert got[(APOLOGY, "apology", "auroc")]["n"] == total
    assert got[("goemotions dev: remorse", "apology", "share_flagged")]["n"] == remorse
    assert got[("goemotions dev: not remorse", "apology", "share_flagged")]["n"] == total - remorse
    assert got[("goemotions dev: all", "state_report", "share_flagged")]["n"] == total
    # the valence comparison holds the comments with a report in exactly one of the two groups
    reported = round(got[("goemotions dev: all", "state_report", "share_flagged")]["estimate"] * total)
    assert 0 < got[(VALENCE, "state_valence", "auroc")]["n"] <= reported
    assert got[(VALENCE, "vader_compound", "auroc")]["n"] == got[(VALENCE, "state_valence", "auroc")]["n"]
