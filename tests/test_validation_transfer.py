"""Transfer checks: label construction on hand-written toy files, and the validator on the real data."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from conftest import require_shared, write_goemotions

from welfare.validation import (
    HOSTILE_EMOTIONS,
    RESULT_COLUMNS,
    ValidationInputError,
    convabuse_transfer_items,
    goemotions_transfer_items,
    validate,
    validate_convabuse,
    validate_transfer,
    validators,
)

ORIGINAL_NAMES = ["anger", "annoyance", "disgust", "sadness", "joy", "neutral"]
GROUP_NAMES = ["ambiguous", "negative", "neutral", "positive"]
HOSTILE_SUBSET = "goemotions dev: anger/annoyance/disgust vs no negative"
NEGATIVE_SUBSET = "goemotions dev: negative vs rest"
ABUSE_SUBSET = "convabuse valid: abusive vs not abusive"

# (comment id, text, original label names, group label names); texts written for this test
COMMENTS = [
    ("c1", "You are a stupid idiot and I hate you.", ["anger"], ["negative"]),
    ("c2", "What a useless moron, shut up.", ["disgust", "sadness"], ["negative"]),
    ("c3", "I miss my old dog so much.", ["sadness"], ["negative"]),
    ("c4", "What a lovely walk by the river.", ["joy"], ["positive"]),
    ("c5", "The train leaves at nine.", ["neutral"], ["neutral"]),
]


def _write_goemotions(root: Path, comments: list[tuple[str, str, list[str], list[str]]] = COMMENTS,
                      group_ids: list[str] | None = None) -> Path:
    return write_goemotions(root, comments, ORIGINAL_NAMES, GROUP_NAMES, group_ids)


LEVELS = ("1", "0", "-1", "-2", "-3")


def _write_convabuse(root: Path, rows: list[tuple[str, list[str | None]]]) -> Path:
    """``rows``: (user turn, one mark per annotator: a level, or None when that annotator did not see it)."""
    root.mkdir(parents=True, exist_ok=True)
    n_ann = len(rows[0][1])
    header = ["example_id", "prev_agent", "prev_user", "agent", "user", "bot"]
    header += [f"Annotator{a}_is_abuse.{lv}" for a in range(1, n_ann + 1) for lv in LEVELS]
    with open(root / "ConvAbuseEMNLPvalid.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for k, (user, marks) in enumerate(rows):
            cells = [str(k), "Hello.", "Hi.", "How can I help?", user, "toybot"]
            for mark in marks:
                cells += ["" if mark is None else ("1" if lv == mark else "0") for lv in LEVELS]
            writer.writerow(cells)
    return root


CONVABUSE_ROWS: list[tuple[str, list[str | None]]] = [
    ("you are a stupid idiot bot", ["-2", "-1", "1"]),      # abusive (2 of 3 below 0)
    ("shut up, you useless machine", ["-3", "-3", None]),   # abusive (2 of 2)
    ("what is the weather like today", ["1", "1", "1"]),    # not abusive
    ("tell me a joke please", ["1", "1", "0"]),             # not abusive (2 of 3)
    ("whatever", ["1", "-1", "0"]),                          # no majority: left out
]


def test_goemotions_labels(tmp_path: Path) -> None:
    items = goemotions_transfer_items(_write_goemotions(tmp_path / "ge"))
    assert items["id"].tolist() == ["c1", "c2", "c3", "c4", "c5"]
    assert items["hostile"].tolist() == [True, True, False, False, False]
    assert items["negative"].tolist() == [True, True, True, False, False]
    # sadness alone is negative but not hostile: in neither class of the hostile comparison
    compared = items["hostile_vs_none"]
    assert compared.isna().tolist() == [False, False, True, False, False]
    assert compared.dropna().tolist() == [True, True, False, False]
    assert set(HOSTILE_EMOTIONS) == {"anger", "annoyance", "disgust"}


def test_goemotions_views_are_matched_by_id(tmp_path: Path) -> None:
    # the group view lists the same comments in another order: labels follow the id, not the line
    comments = COMMENTS[::-1]
    root = tmp_path / "ge"
    _write_goemotions(root)
    group_lines = [f"{c[1]}\t{','.join(str(GROUP_NAMES.index(n)) for n in c[3])}\t{c[0]}" for c in comments]
    (root / "group" / "dev.tsv").write_text("\n".join(group_lines) + "\n", encoding="utf-8")
    items = goemotions_transfer_items(root)
    assert items.set_index("id")["negative"].to_dict() == {"c1": True, "c2": True, "c3": True, "c4": False,
                                                           "c5": False}


def test_goemotions_bad_views(tmp_path: Path) -> None:
    mismatched = _write_goemotions(tmp_path / "a", group_ids=["c1", "c2", "c3", "c4", "zz"])
    with pytest.raises(ValidationInputError, match=r"different comments \(2 ids in one view only"):
        goemotions_transfer_items(mismatched)
    dupes = _write_goemotions(tmp_path / "b", group_ids=["c1", "c2", "c3", "c4", "c4"])
    with pytest.raises(ValidationInputError, match=r"group/dev\.tsv repeats comment id 'c4'"):
        goemotions_transfer_items(dupes)


def test_convabuse_labels(tmp_path: Path) -> None:
    turns = convabuse_transfer_items(_write_convabuse(tmp_path / "ca", CONVABUSE_ROWS))
    assert turns["user"].tolist() == [r[0] for r in CONVABUSE_ROWS[:4]]
    assert turns["abusive"].tolist() == [True, True, False, False]


def test_validator_on_toy_folders(tmp_path: Path) -> None:
    _write_goemotions(tmp_path / "goemotions")
    _write_convabuse(tmp_path / "convabuse", CONVABUSE_ROWS)
    assert "transfer" in validators()
    res = validate("transfer", tmp_path)
    assert list(res.columns) == list(RESULT_COLUMNS)
    assert set(res["dataset"]) == {"transfer"} and set(res["statistic"]) == {"auroc"}
    got = {(r["subset"], r["metric"]): r for r in res.to_dict("records")}
    assert set(got) == {(HOSTILE_SUBSET, "hostility"), (HOSTILE_SUBSET, "negative_affect"),
                        (HOSTILE_SUBSET, "vader_neg"), (NEGATIVE_SUBSET, "hostility"),
                        (NEGATIVE_SUBSET, "vader_neg"), (ABUSE_SUBSET, "negative_affect"),
                        (ABUSE_SUBSET, "hostility"), (ABUSE_SUBSET, "vader_neg")}
    assert got[(HOSTILE_SUBSET, "hostility")]["n"] == 4  # the sadness-only comment is left out
    assert got[(NEGATIVE_SUBSET, "hostility")]["n"] == 5
    assert got[(ABUSE_SUBSET, "negative_affect")]["n"] == 4
    # the two insulting comments are the only hostile texts: they rank above both calm ones
    assert got[(HOSTILE_SUBSET, "hostility")]["estimate"] == 1.0
    assert got[(ABUSE_SUBSET, "hostility")]["estimate"] == 1.0
    # negative vs rest: the sad comment scores no hostility, tied with the two calm ones (ties count half)
    assert got[(NEGATIVE_SUBSET, "hostility")]["estimate"] == pytest.approx((2 * 2 + 0.5 * 2) / 6)
    assert "vader_neg" not in set(validate_transfer(tmp_path, vader=False)["metric"])


def test_validator_runs_the_sources_present(tmp_path: Path) -> None:
    _write_goemotions(tmp_path / "goemotions")
    res = validate_transfer(tmp_path, vader=False)
    assert set(res["subset"]) == {HOSTILE_SUBSET, NEGATIVE_SUBSET}
    with pytest.raises(ValidationInputError, match="transfer checks need"):
        validate_transfer(tmp_path / "empty")


def _raw_goemotions_counts(folder: Path) -> tuple[int, int, int]:
    """(hostile, no negative label, all) comments of dev, read straight from the original view's files."""
    names = (folder / "original" / "labels.txt").read_text(encoding="utf-8").split()
    negative_group = set(json.loads((folder / "sentiment_dict.json").read_text(encoding="utf-8"))["negative"])
    hostile = none = total = 0
    with open(folder / "original" / "dev.tsv", encoding="utf-8", newline="") as fh:
        for cells in csv.reader(fh, delimiter="\t"):
            labels = {names[int(i)] for i in cells[1].split(",")}
            total += 1
            hostile += bool(labels & {"anger", "annoyance", "disgust"})
            none += not labels & negative_group
    return hostile, none, total


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_transfer_validator() -> None:
    data = require_shared()
    goemotions, convabuse = require_shared("goemotions"), require_shared("convabuse")
    res = validate_transfer(data)
    for r in res.to_dict("records"):
        est, low, high = float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"])
        assert all(math.isfinite(v) for v in (est, low, high)), r
        assert 0.0 <= low <= est <= high <= 1.0, r
    hostile, none, total = _raw_goemotions_counts(goemotions)
    n = res.groupby("subset")["n"].unique().to_dict()
    assert n[HOSTILE_SUBSET].tolist() == [hostile + none]
    assert n[NEGATIVE_SUBSET].tolist() == [total]
    home = validate_convabuse(convabuse, vader=False).set_index("metric")
    ours = res[res["subset"] == ABUSE_SUBSET].set_index("metric")
    # the same label rule as the ConvAbuse validator: same items, same figures
    for metric in ("hostility", "negative_affect"):
        assert ours.loc[metric, "n"] == home.loc[metric, "n"]
        assert ours.loc[metric, "estimate"] == pytest.approx(home.loc[metric, "estimate"])
    assert sorted(ours.index) == ["hostility", "negative_affect", "vader_neg"]


def test_convabuse_reader_refuses_a_renamed_annotator_column(tmp_path: Path) -> None:
    from welfare.validation._convabuse import read_convabuse

    root = _write_convabuse(tmp_path / "ca", CONVABUSE_ROWS)
    path = root / "ConvAbuseEMNLPvalid.csv"
    assert len(read_convabuse(path)) == len(CONVABUSE_ROWS)
    path.write_text(path.read_text(encoding="utf-8").replace("Annotator3_", "Annot3_", 5), encoding="utf-8")
    with pytest.raises(ValidationInputError, match=r"'Annot3_is_abuse.1' looks like an annotator's mark"):
        read_convabuse(path)
