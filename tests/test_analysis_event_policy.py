"""Turn-aligned event study, the policy audit and what users do after an ending."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from welfare.analysis import (
    RESULT_COLUMNS,
    AnalysisInputError,
    after_ending,
    align_to_anchor,
    event_study,
    follow_ups,
    policy_audit,
)


def messages(n_conv: int = 40, seed: int = 0) -> pd.DataFrame:
    """Alternating user/assistant turns; assistant distress = 10·arm + (turns since the first refusal) + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_conv):
        arm = "tool" if c % 2 else "baseline"
        n_turns = int(rng.integers(4, 9))
        first_refusal = int(rng.integers(1, n_turns))
        for i in range(2 * n_turns):
            turn = i // 2
            role = "user" if i % 2 == 0 else "assistant"
            rows.append({"conversation_id": f"c{c}", "branch_id": "0", "message_index": i, "role": role,
                         "condition": arm, "user_id": f"u{c // 4}",
                         "refused": role == "assistant" and turn >= first_refusal,
                         "distress": 10.0 * (arm == "tool") + (turn - first_refusal) + rng.normal(scale=0.1)
                         if role == "assistant" else np.nan})
    return pd.DataFrame(rows)


def test_alignment_counts_turns_of_the_role_from_the_anchor() -> None:
    msgs = messages(6)
    aligned = align_to_anchor(msgs, "refused")
    assert (aligned.role == "assistant").all()
    first = aligned[aligned.refused].groupby("conversation_id").relative_turn.min()
    assert (first == 0).all()
    # distress encodes the true relative turn; the alignment recovers it
    assert np.allclose(aligned.distress - 10 * (aligned.condition == "tool"), aligned.relative_turn, atol=0.5)
    second = align_to_anchor(msgs, "refused", occurrence=2)
    assert (second[second.refused].groupby("conversation_id").relative_turn.min() == -1).all()
    by_index = msgs.assign(at=msgs.groupby("conversation_id").message_index.transform(
        lambda s: s[msgs.loc[s.index, "refused"]].min()))
    pd.testing.assert_series_equal(align_to_anchor(by_index, "at").relative_turn, aligned.relative_turn)
    by_expression = align_to_anchor(msgs, "role == 'assistant' and refused")
    pd.testing.assert_series_equal(by_expression.relative_turn, aligned.relative_turn)
    with pytest.raises(AnalysisInputError, match="neither a message column nor an expression"):
        align_to_anchor(msgs, "no_such_column > 1")
    with pytest.raises(AnalysisInputError, match=r"role must be one of .*'assistent'"):
        align_to_anchor(msgs, "refused", role="assistent")  # a typo aligned nothing, silently
    # a metric column is not a per-branch anchor index: it would silently anchor every branch at its first message
    with pytest.raises(AnalysisInputError, match=r"varies within branches.*distress >= 0\.5"):
        align_to_anchor(msgs, "distress")


def test_event_study_means_bands_and_differences() -> None:
    msgs = messages()
    res = event_study(msgs, "distress", "refused", window=2, arm="condition", cluster="user_id", n_boot=400)
    assert tuple(res.columns) == (*RESULT_COLUMNS, "arm", "turn")
    base = res[res.arm == "baseline"].set_index("turn")
    assert base.estimate.to_numpy() == pytest.approx([-2, -1, 0, 1, 2], abs=0.1)
    assert (base.ci_low <= base.estimate).all() and (base.estimate <= base.ci_high).all()
    diff = res[res.contrast == "tool - baseline"].set_index("turn")
    assert diff.estimate.to_numpy() == pytest.approx([10] * 5, abs=0.1)
    assert (diff.p_value < 0.05).all()  # the floor with 10 users and 400 draws is about 0.019
    assert base.loc[0, "n_obs"] == 20  # every baseline conversation reaches its anchor
    again = event_study(msgs, "distress", "refused", window=2, arm="condition", cluster="user_id", n_boot=400)
    pd.testing.assert_frame_equal(res, again)


def test_event_study_without_arm_and_errors() -> None:
    msgs = messages(10)
    res = event_study(msgs, "distress", msgs["refused"], window=1, n_boot=50)
    assert set(res.arm) == {"all"} and list(res.turn) == [-1, 0, 1]
    with pytest.raises(AnalysisInputError, match="window"):
        event_study(msgs, "distress", "refused", window=-1)
    with pytest.raises(AnalysisInputError, match="boolean"):
        event_study(msgs, "distress", "condition")
    none = msgs.assign(refused=False)
    empty = event_study(none, "distress", "refused", window=1, n_boot=20)
    assert empty.estimate.isna().all() and (empty.n_obs == 0).all()


def hostile_messages() -> tuple[pd.DataFrame, dict[tuple[str, int], int]]:
    """Three arms; in each branch the first user turn with hostility >= 0.5 comes at user turn ``t_h``.

    Earlier user turns have hostility 0.4 (below the threshold) and every assistant row 0.9 (not a user turn), so
    an anchor that ignored either part of the expression would move. Assistant distress = arm offset + (turn -
    t_h), exactly. Branches with no hostile user turn have distress 100 and must be left out. Also returns the
    number of assistant replies per (arm, relative turn), counted from the construction.
    """
    offsets = {"a": 0.0, "b": 10.0, "c": -5.0}
    rows, counts = [], {}
    for c in range(18):
        arm = "abc"[c % 3]
        for branch in ("0", "1"):
            n_turns = 3 + (c + int(branch)) % 4
            t_h = 1 + (c + 2 * int(branch)) % (n_turns - 1)
            hostile = c % 5 != 4
            for i in range(2 * n_turns):
                turn, role = i // 2, ("user", "assistant")[i % 2]
                if role == "user":
                    hostility = 0.8 if hostile and turn == t_h else (0.4 if turn < t_h or not hostile else 0.1)
                    distress = np.nan
                else:
                    hostility = 0.9
                    distress = offsets[arm] + turn - t_h if hostile else 100.0
                    if hostile:
                        counts[arm, turn - t_h] = counts.get((arm, turn - t_h), 0) + 1
                rows.append({"conversation_id": f"c{c}", "branch_id": branch, "message_index": i, "role": role,
                             "condition": arm, "hostility": hostility, "distress": distress})
    return pd.DataFrame(rows), counts


def test_event_study_expression_anchor_per_arm() -> None:
    msgs, counts = hostile_messages()
    res = event_study(msgs, "distress", "role == 'user' and hostility >= 0.5", window=3, arm="condition",
                      control="a", n_boot=200)
    assert set(res.arm) == {"a", "b", "c", "b - a", "c - a"}
    offsets = {"a": 0.0, "b": 10.0, "c": -5.0}
    for arm, offset in offsets.items():
        rows = res[res.arm == arm].set_index("turn")
        assert list(rows.index) == [-3, -2, -1, 0, 1, 2, 3]
        expected_n = [counts.get((arm, t), 0) for t in rows.index]
        assert rows.n_obs.tolist() == expected_n
        seen = rows[rows.n_obs > 0]
        assert seen.estimate.to_numpy() == pytest.approx(offset + seen.index.to_numpy())
        assert rows.loc[rows.n_obs == 0, "estimate"].isna().all()
        banded = seen[seen.n_clusters >= 6]  # fewer than 6 branches at a turn: no 95% band
        assert (banded.ci_low <= banded.estimate + 1e-9).all() and (banded.estimate <= banded.ci_high + 1e-9).all()
        assert seen.loc[seen.n_clusters < 6, "ci_low"].isna().all()
    for arm in ("b", "c"):
        diff = res[res.arm == f"{arm} - a"].set_index("turn")
        both = [t for t in diff.index if counts.get((arm, t), 0) and counts.get(("a", t), 0)]
        assert both and diff.loc[both, "estimate"].to_numpy() == pytest.approx([offsets[arm]] * len(both))
    # the anchor is read as the expression, not as a column: with the role test dropped it moves
    loose = event_study(msgs, "distress", "hostility >= 0.5", window=3, arm="condition", control="a", n_boot=20)
    assert not np.allclose(loose[loose.arm == "a"].estimate.fillna(0), res[res.arm == "a"].estimate.fillna(0))


def conversations() -> pd.DataFrame:
    rows = [
        # user u1: ended c1, came back in c2 (linked by time); c1 also has an edited branch
        ("c1", "a", True, "u1", "m", "tool", "2026-01-01T10:00:00Z", "assistant", "last_resort", 0.8),
        ("c1", "b", False, "u1", "m", "tool", "2026-01-01T10:00:00Z", "none", "not_ended", 0.5),
        ("c2", "0", True, "u1", "m", "tool", "2026-01-02T10:00:00Z", "assistant", "premature", 0.6),
        # user u2: ended c3 and never came back
        ("c3", "0", True, "u2", "m", "tool", "2026-01-01T10:00:00Z", "assistant", "user_request", 0.9),
        ("c4", "0", True, "u3", "m", "baseline", "2026-01-01T10:00:00Z", "none", "not_ended", 0.1),
        ("c5", "0", True, "u3", "m", "baseline", "2026-01-03T10:00:00Z", "none", "not_ended", 0.2),
    ]
    cols = ["conversation_id", "branch_id", "is_active_branch", "user_id", "model", "condition", "started_at",
            "ended_by", "ending_policy", "distress_mean"]
    return pd.DataFrame(rows, columns=cols)


def test_policy_audit_rates_with_wilson_intervals() -> None:
    res = policy_audit(conversations(), by=["condition"])
    assert tuple(res.columns) == (*RESULT_COLUMNS, "group", "category", "count")
    tool = res[res.group == "condition=tool"].set_index("category")
    assert tool["count"].to_dict() == {"last_resort": 1, "user_request": 1, "risk_violation": 0, "premature": 1,
                                       "not_ended": 1}
    low, high = proportion_confint(1, 4, method="wilson")
    assert (tool.loc["premature", "ci_low"], tool.loc["premature", "ci_high"]) == pytest.approx((low, high))
    ended = policy_audit(conversations(), by=["condition"], ended_only=True)
    assert "not_ended" not in set(ended.category)
    assert ended[ended.group == "condition=tool"].estimate.sum() == pytest.approx(1.0)
    with pytest.raises(AnalysisInputError, match="not ending policies"):
        policy_audit(conversations().assign(ending_policy="rude"))


def test_follow_ups_by_time_and_by_link() -> None:
    links = follow_ups(conversations())
    kinds = links.groupby(["conversation_id", "branch_id"]).follow_up_kind.apply(sorted).to_dict()
    assert kinds == {("c1", "a"): ["branch", "new_chat"], ("c2", "0"): ["none"],
                     ("c3", "0"): ["none"]}
    new_chat = links[links.follow_up_kind == "new_chat"].iloc[0]
    assert new_chat.follow_up_conversation_id == "c2" and new_chat.outcome_follow_up == 0.6
    later = conversations()
    later.loc[len(later)] = ["c6", "0", True, "u1", "m", "tool", "2026-01-09T10:00:00Z", "none", "not_ended", 0.0]
    relinked = follow_ups(later)
    assert relinked[relinked.follow_up_kind == "new_chat"].follow_up_conversation_id.tolist() == ["c2", "c6"]
    linked = conversations().assign(previous_conversation_id=[None, None, None, None, "c3", None])
    by_link = follow_ups(linked)
    row = by_link[(by_link.conversation_id == "c3") & (by_link.follow_up_kind == "new_chat")]
    assert row.follow_up_conversation_id.tolist() == ["c4"]


def test_after_ending_summarises_follow_ups_and_recurrence() -> None:
    res = after_ending(conversations(), n_boot=200)
    assert tuple(res.columns) == (*RESULT_COLUMNS, "group", "count")
    share = res[res.outcome == "follow_up"].set_index("contrast")
    assert share.estimate.to_dict() == pytest.approx({"new_chat": 1 / 3, "branch": 1 / 3, "none": 2 / 3})
    diff = res[res.contrast == "new_chat - ended"].iloc[0]
    assert diff.estimate == pytest.approx(0.6 - 0.8)
    again = res[(res.outcome == "ended_again") & (res.contrast == "new_chat")].iloc[0]
    assert again.estimate == 1.0 and again["count"] == 1
    quiet = conversations().assign(ended_by="none")
    empty = after_ending(quiet, n_boot=20)
    assert empty.estimate.isna().all()


def sparse_late_turns() -> pd.DataFrame:
    """20 branches per arm, every one reaching turns 0 and 1; 7 tool and 12 baseline branches reach turn 2, one tool
    and 3 baseline branches reach turn 3. Distress has a level per branch, so rows of a branch correlate."""
    rng = np.random.default_rng(3)
    rows = []
    for c in range(40):
        arm = "tool" if c % 2 else "baseline"
        rank = c // 2  # 0..19 within the arm
        reach_3, reach_2 = (1, 7) if arm == "tool" else (3, 12)
        last = 3 if rank < reach_3 else (2 if rank < reach_2 else 1)
        level = rng.normal()
        for t in range(last + 1):
            rows.append({"conversation_id": f"c{c:02d}", "branch_id": "0", "message_index": t, "role": "assistant",
                         "condition": arm, "start": t == 0, "distress": level + 0.3 * rng.normal()})
    return pd.DataFrame(rows)


def test_event_study_bands_are_expanded_for_the_clusters_seen_at_each_turn() -> None:
    from welfare.analysis._bootstrap import bootstrap_counts, expanded_alpha, percentile_summary

    msgs = sparse_late_turns()
    res = event_study(msgs, "distress", "start", window=3, arm="condition", cluster="conversation_id",
                      n_boot=300, seed=4)
    # the same draws by hand: clusters in sorted id order, resampled within arm (baseline = stratum 0)
    ids = sorted(msgs.conversation_id.unique())
    arm_of = msgs.groupby("conversation_id").condition.first()
    strata = np.array([int(arm_of[i] == "tool") for i in ids])
    counts = np.concatenate(list(bootstrap_counts(strata, 300, 4)))

    def draws(arm: str, turn: int) -> np.ndarray:
        at = msgs[(msgs.condition == arm) & (msgs.message_index == turn)].set_index("conversation_id").distress
        y = at.reindex(ids).fillna(0).to_numpy()
        n = at.reindex(ids).notna().to_numpy(float)
        with np.errstate(invalid="ignore"):
            return counts @ y / (counts @ n)

    for arm, turn, g in [("tool", 2, 7), ("baseline", 2, 12), ("tool", 0, 20)]:
        row = res[(res.arm == arm) & (res.turn == turn)].iloc[0]
        assert row.n_clusters == g
        d = draws(arm, turn)
        d = d[np.isfinite(d)]
        alpha = expanded_alpha(0.05, g)  # not expanded_alpha(0.05, 40): the turn has g clusters, not 40
        assert (row.ci_low, row.ci_high) == pytest.approx(tuple(np.quantile(d, [alpha / 2, 1 - alpha / 2])))
    # the difference at turn 2 counts the 19 clusters of both arms but is expanded for the tool arm's 7: its mean
    # is the less certain one (expanded for 19, a 10 vs 2 band covered 0 in 78% of samples)
    diff = res[(res.arm == "tool - baseline") & (res.turn == 2)].iloc[0]
    assert diff.n_clusters == 19
    expected = percentile_summary(diff.estimate, draws("tool", 2) - draws("baseline", 2), 0.95, 7)
    assert (diff.se, diff.ci_low, diff.ci_high, diff.p_value) == pytest.approx(expected)
    assert percentile_summary(diff.estimate, draws("tool", 2) - draws("baseline", 2), 0.95, 19)[1] > diff.ci_low
    # turn 3: one tool and three baseline branches, fewer than the 6 a 95% band needs; no difference test either
    late = res[res.turn == 3].set_index("arm")
    assert late.loc["tool", "n_clusters"] == 1 and late.loc["baseline", "n_clusters"] == 3
    assert np.isfinite(late.estimate).all()
    assert late[["se", "ci_low", "ci_high"]].isna().all().all() and np.isnan(late.loc["tool - baseline", "p_value"])
    assert "one cluster at this turn, fewer than the 6 a 95% band needs" in late.loc["tool", "method"]
    assert "3 clusters at this turn, fewer than the 6 a 95% band needs" in late.loc["baseline", "method"]
    assert "at most 75% of the time" in late.loc["baseline", "method"]
    why = late.loc["tool - baseline", "method"]
    assert "no interval or test (tool: one cluster" in why and "baseline: 3 clusters" in why


def test_event_study_band_minimum_follows_the_confidence() -> None:
    # A percentile band stays within the range of the G cluster means, which misses the mean with probability
    # 2^(1-G): the fewest clusters whose 1 - 2^(1-G) reaches the confidence (0.75 with 3, 0.9375 with 5, 0.96875
    # with 6, 0.9921875 with 8).
    from welfare.analysis._event import _min_band_clusters

    assert [_min_band_clusters(c) for c in (0.5, 0.75, 0.8, 0.9, 0.95, 0.99)] == [2, 3, 4, 5, 6, 8]
    msgs = sparse_late_turns()
    at_95 = event_study(msgs, "distress", "start", window=3, arm="condition", n_boot=100, seed=1)
    at_70 = event_study(msgs, "distress", "start", window=3, arm="condition", n_boot=100, seed=1, confidence=0.7)
    baseline_3 = [r[(r.arm == "baseline") & (r.turn == 3)].iloc[0] for r in (at_95, at_70)]
    assert np.isnan(baseline_3[0].ci_low)  # 3 clusters: no 95% band
    assert baseline_3[1].ci_low < baseline_3[1].estimate < baseline_3[1].ci_high  # a 70% band needs 3


def test_ended_again_counts_follow_ups_without_an_outcome() -> None:
    # Three new chats after an ending: c2 (ended again), c7 (not ended; no distress value, e.g. no reply yet) and
    # c9 (ended again, no distress value). All three are follow-ups: the share is 2 of 3, not 1 of 1.
    convs = conversations()
    convs.loc[len(convs)] = ["c7", "0", True, "u2", "m", "tool", "2026-01-02T10:00:00Z", "none", "not_ended", np.nan]
    convs.loc[len(convs)] = ["c8", "0", True, "u4", "m", "tool", "2026-01-01T10:00:00Z", "assistant", "premature", 0.7]
    convs.loc[len(convs)] = ["c9", "0", True, "u4", "m", "tool", "2026-01-02T10:00:00Z", "assistant", "premature",
                             np.nan]
    res = after_ending(convs, n_boot=50)
    again = res[res.outcome == "ended_again"].set_index("contrast")
    low, high = proportion_confint(2, 3, method="wilson")
    assert (again.loc["new_chat", "count"], again.loc["new_chat", "n_obs"]) == (2, 3)
    assert again.loc["new_chat", "estimate"] == pytest.approx(2 / 3)
    assert (again.loc["new_chat", "ci_low"], again.loc["new_chat", "ci_high"]) == pytest.approx((low, high))
    links = follow_ups(convs)
    for kind in ("new_chat", "branch"):  # ended again + not ended again = every follow-up of the kind
        assert again.loc[kind, "n_obs"] == (links.follow_up_kind == kind).sum()
    # the distress comparison still needs both values: only c1 -> c2 is a complete pair
    diff = res[res.contrast == "new_chat - ended"].iloc[0]
    assert diff.estimate == pytest.approx(0.6 - 0.8) and diff.n_obs == 2


def test_ended_again_counts_each_branch_follow_up_once() -> None:
    # k1: branches a and b ended by the assistant, c not; k2: d and e ended, f and g not; k3: h ended, i not;
    # k4: one branch only (no branch follow-up). Read as one ending then the other branches: k1 gives 1 ended
    # again of 2, k2 1 of 3, k3 0 of 1, so 2 of 6. Listing each ended branch's siblings gave 2/4 + 2/6 + 0/1 = 4 of
    # 11, counting a and b as each other's "ended again".
    ended = {"a", "b", "d", "e", "h", "j"}
    rows = [(conv, b, b in "cgij", "u" + conv, "2026-01-01T10:00:00Z", "assistant" if b in ended else "none", 0.5)
            for conv, branches in [("k1", "abc"), ("k2", "defg"), ("k3", "hi"), ("k4", "j")] for b in branches]
    convs = pd.DataFrame(rows, columns=["conversation_id", "branch_id", "is_active_branch", "user_id",
                                        "started_at", "ended_by", "distress_mean"])
    res = after_ending(convs, n_boot=50)
    again = res[(res.outcome == "ended_again") & (res.contrast == "branch")].iloc[0]
    assert (again["count"], again.n_obs) == (2, 6) and again.estimate == pytest.approx(2 / 6)
    low, high = proportion_confint(2, 6, method="wilson")
    assert (again.ci_low, again.ci_high) == pytest.approx((low, high))
    # the link table still lists every (ended branch, sibling) pair; the share of endings with a branch is per ending
    links = follow_ups(convs)
    assert (links.follow_up_kind == "branch").sum() == 4 + 6 + 1
    share = res[(res.outcome == "follow_up") & (res.contrast == "branch")].iloc[0]
    assert (share["count"], share.n_obs) == (5, 6)  # j (k4) has no other branch
