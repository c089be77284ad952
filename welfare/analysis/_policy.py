"""Policy audit: how endings were used (Wilson rates by model and arm), and what users did after an ending."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from welfare.analysis._compare import _wilson_row, group_label, paired_effect
from welfare.analysis._results import AnalysisInputError, check_confidence, make_result, require_columns

__all__ = ["ENDING_POLICIES", "after_ending", "follow_ups", "policy_audit"]

#: Values of the conversation table's ``ending_policy`` column (docs/architecture.md).
ENDING_POLICIES: tuple[str, ...] = ("last_resort", "user_request", "risk_violation", "premature", "not_ended")
FOLLOW_UP_KINDS: tuple[str, ...] = ("new_chat", "branch", "none")
KEYS = ("conversation_id", "branch_id")


def policy_audit(
    conversations: pd.DataFrame,
    by: Sequence[str] = ("model", "condition"),
    *,
    column: str = "ending_policy",
    ended_only: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of branches in each ending-policy category, per group, with Wilson intervals.

    Categories are ``last_resort``, ``user_request``, ``risk_violation`` (ended although the user seemed at
    risk), ``premature`` (ended before redirection was tried) and ``not_ended``. Every category gets a row in
    every group (zero counts included). ``ended_only=True`` uses ended branches as the denominator (and drops
    ``not_ended``). Rows with a missing category are left out.

    Returns
    -------
    DataFrame
        Fixed result columns (``contrast`` = the category; no p-values) plus ``group``, ``category``, ``count``.
    """
    by = [by] if isinstance(by, str) else list(by)
    require_columns(conversations, [column, *by], argument="conversations")
    confidence = check_confidence(confidence)
    values = conversations[column]
    unknown = sorted(set(values.dropna().unique()) - set(ENDING_POLICIES), key=str)
    if unknown:
        raise AnalysisInputError(
            f"column {column!r} has value(s) {unknown} that are not ending policies; expected one of "
            f"{list(ENDING_POLICIES)} (see docs/architecture.md)"
        )
    frame = conversations.loc[values.notna(), by].assign(_cat=values[values.notna()])
    categories = list(ENDING_POLICIES)
    if ended_only:
        frame = frame[frame["_cat"] != "not_ended"]
        categories.remove("not_ended")
    groups = frame.groupby(by, observed=True, dropna=False, sort=True) if by else [((), frame)]
    rows = []
    for keys, grp in groups:
        label = group_label(keys, by)
        for cat in categories:
            row = _wilson_row(column, label, (grp["_cat"] == cat).astype(float), confidence, contrast=cat)
            row["category"] = cat
            row["method"] = "share of " + ("ended branches" if ended_only else "branches") + "; Wilson score interval"
            rows.append(row)
    return make_result(rows, ("group", "category", "count"))


def follow_ups(
    conversations: pd.DataFrame,
    *,
    user: str = "user_id",
    time: str = "started_at",
    outcome: str = "distress_mean",
) -> pd.DataFrame:
    """For every branch the assistant ended, what the user did next.

    * ``new_chat``: a conversation whose ``previous_conversation_id`` is the ended one, when that column exists
      and links anything; otherwise the user's next conversation by ``time`` (active branch).
    * ``branch``: every other branch of the same conversation (the user edited an earlier message). The
      conversation table has neither branch creation times nor fork points, so it cannot tell whether that
      branch was made before or after the ending; two ended branches of one conversation are each listed as
      the other's follow-up.
    * ``none``: neither was found.

    Returns
    -------
    DataFrame
        One row per (ended branch, follow-up): ``conversation_id, branch_id, user_id, follow_up_kind,
        follow_up_conversation_id, follow_up_branch_id, outcome_ended, outcome_follow_up, follow_up_ended``.
    """
    require_columns(conversations, [*KEYS, "ended_by", user, outcome], argument="conversations")
    convs = conversations.reset_index(drop=True)
    active = (convs["is_active_branch"].astype(bool) if "is_active_branch" in convs.columns
              else pd.Series(True, index=convs.index))
    linked = "previous_conversation_id" in convs.columns and convs["previous_conversation_id"].notna().any()
    if not linked:
        require_columns(convs, [time], argument="conversations")
    base_cols = {"conversation_id": "conversation_id", "branch_id": "branch_id", user: "user_id",
                 outcome: "outcome_ended"}
    ended = convs.loc[convs["ended_by"].eq("assistant"), list(base_cols)].rename(columns=base_cols)
    if not linked:
        ended["_t"] = _times(convs.loc[ended.index, time])
    follow = convs[["conversation_id", "branch_id", outcome, "ended_by"]].rename(columns={
        "conversation_id": "follow_up_conversation_id", "branch_id": "follow_up_branch_id",
        outcome: "outcome_follow_up"})
    follow["follow_up_ended"] = follow.pop("ended_by").eq("assistant").astype(float)
    # edit-and-branch: every other branch of the same conversation
    branches = ended.merge(follow, left_on="conversation_id", right_on="follow_up_conversation_id")
    branches = branches[branches["follow_up_branch_id"] != branches["branch_id"]].assign(follow_up_kind="branch")
    heads = follow[active.to_numpy()].drop_duplicates("follow_up_conversation_id")
    if linked:
        heads = heads.assign(_prev=convs.loc[heads.index, "previous_conversation_id"])
        chats = ended.merge(heads.dropna(subset=["_prev"]), left_on="conversation_id", right_on="_prev")
    else:
        heads = heads.assign(_user=convs.loc[heads.index, user],
                             _t=_times(convs.loc[heads.index, time]))
        heads = heads.dropna(subset=["_user", "_t"]).sort_values("_t", kind="stable")
        left = ended.dropna(subset=["user_id", "_t"]).reset_index().sort_values("_t", kind="stable")
        # the user's next conversation strictly after the ended one started
        chats = pd.merge_asof(left, heads.rename(columns={"_user": "user_id"}), on="_t", by="user_id",
                              direction="forward", allow_exact_matches=False)
        chats = chats.dropna(subset=["follow_up_conversation_id"]).set_index("index")
    chats = chats.assign(follow_up_kind="new_chat")
    columns = ["conversation_id", "branch_id", "user_id", "follow_up_kind", "follow_up_conversation_id",
               "follow_up_branch_id", "outcome_ended", "outcome_follow_up", "follow_up_ended"]
    found = pd.concat([chats[columns], branches[columns]], ignore_index=True)
    seen = found[["conversation_id", "branch_id"]].drop_duplicates().assign(_seen=True)
    none = ended.merge(seen, how="left", on=["conversation_id", "branch_id"])
    none = none[none["_seen"].isna()].assign(follow_up_kind="none", follow_up_conversation_id=None,
                                             follow_up_branch_id=None, outcome_follow_up=np.nan,
                                             follow_up_ended=np.nan)
    out = pd.concat([found, none[columns]], ignore_index=True)
    order = {kind: k for k, kind in enumerate(FOLLOW_UP_KINDS)}
    out["_order"] = out["follow_up_kind"].map(order)
    return out.sort_values(["conversation_id", "branch_id", "_order"], kind="stable").drop(
        columns="_order").reset_index(drop=True)


def _times(values: pd.Series) -> pd.Series:
    """Timestamps in UTC at one resolution (merge_asof needs both sides alike); unparsable ones become NaT."""
    return pd.to_datetime(values, utc=True, errors="coerce").astype("datetime64[us, UTC]")


def _branches_ended_again(conversations: pd.DataFrame) -> pd.Series:
    """1/0 per branch follow-up, ended again or not: per conversation with ``B >= 2`` branches, ``E >= 1`` of them
    ended by the assistant, ``E - 1`` ones and ``B - E`` zeros (one ending, then the other branches)."""
    ended = conversations["ended_by"].eq("assistant")
    per_conversation = ended.groupby(conversations["conversation_id"]).agg(["size", "sum"])
    per_conversation = per_conversation[(per_conversation["size"] >= 2) & (per_conversation["sum"] >= 1)]
    again = int((per_conversation["sum"] - 1).sum())
    follow_up_branches = int((per_conversation["size"] - 1).sum())
    return pd.Series(np.r_[np.ones(again), np.zeros(follow_up_branches - again)])


def after_ending(
    conversations: pd.DataFrame,
    *,
    outcome: str = "distress_mean",
    user: str = "user_id",
    time: str = "started_at",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """What users do after the assistant ends a branch, and whether apparent distress recurs there.

    Rows, in order: the share of ended branches followed by a new chat, by another branch, by neither (Wilson
    intervals; ``outcome`` = ``"follow_up"``); for each follow-up kind, the mean difference follow-up minus ended
    branch in ``outcome`` (cluster bootstrap over users; ``contrast`` = ``"<kind> - ended"``; pairs with the
    outcome missing on either side are left out) and the share of follow-ups the assistant ended again
    (``outcome`` = ``"ended_again"``). That share counts every follow-up of the kind, with or without an
    ``outcome`` value: ``count`` are the ones the assistant ended (``ended_by == "assistant"``), ``n_obs`` all of
    them, and any other ending (user, system, none) counts as not ended again. See :func:`follow_ups` for how
    follow-ups are found. No ended branch: every estimate is NaN.

    Branches: the table does not say in which order a conversation's branches were made, so a conversation
    with ``B`` branches, ``E >= 1`` of them ended by the assistant, is read as one ending followed by the other
    ``B - 1`` branches, ``E - 1`` of which the assistant ended again; ``ended_again`` for ``branch`` counts
    each branch once in this way (``count`` = sum of ``E - 1``, ``n_obs`` = sum of ``B - 1``). Which ended
    branch came first is unknown and does not change these counts. (Listing each ended branch's siblings, as
    :func:`follow_ups` does, would count a branch once per ended sibling and two ended siblings as each other's
    "ended again": 2 of 4 for branches a, b ended and c not, instead of 1 of 2.) The ``branch - ended``
    difference uses the pairs :func:`follow_ups` lists, so it averages over which ended branch came first: a
    pair of two ended branches enters both ways and cancels.

    Returns
    -------
    DataFrame
        Fixed result columns plus ``group`` (the follow-up kind) and ``count``.
    """
    confidence = check_confidence(confidence)
    links = follow_ups(conversations, user=user, time=time, outcome=outcome)
    rows: list[dict[str, Any]] = []
    per_ending = links.drop_duplicates(["conversation_id", "branch_id", "follow_up_kind"])
    n_ended = links.drop_duplicates(["conversation_id", "branch_id"]).shape[0]
    ended_keys = links[["conversation_id", "branch_id"]].drop_duplicates()
    for kind in FOLLOW_UP_KINDS:
        has = per_ending[per_ending["follow_up_kind"] == kind][["conversation_id", "branch_id"]]
        flag = ended_keys.merge(has.assign(_f=1.0), how="left", on=["conversation_id", "branch_id"])["_f"].fillna(0.0)
        row = _wilson_row("follow_up", kind, flag if n_ended else pd.Series(dtype=float), confidence, contrast=kind)
        row["method"] = "share of assistant-ended branches; Wilson score interval"
        rows.append(row)
    for kind in ("new_chat", "branch"):
        sub = links[(links["follow_up_kind"] == kind)].copy()
        sub = sub.dropna(subset=["outcome_ended", "outcome_follow_up"])
        label = f"{kind} - ended"
        row = {"outcome": outcome, "contrast": label, "group": kind, "n_obs": 2 * len(sub),
                               "method": "mean paired difference; cluster bootstrap expanded percentile; clusters: user"}
        if len(sub) and sub["user_id"].notna().all():
            sub["_pair"] = np.arange(len(sub))
            long = pd.concat([
                sub.assign(_y=sub["outcome_follow_up"], _arm="follow_up"),
                sub.assign(_y=sub["outcome_ended"], _arm="ended"),
            ])
            res = paired_effect(long, "_y", "_arm", "_pair", treatment="follow_up", control="ended",
                                cluster="user_id", n_boot=n_boot, seed=seed, confidence=confidence)
            row.update({k: res.iloc[0][k] for k in ("estimate", "se", "ci_low", "ci_high", "p_value", "n_clusters",
                                                      "n_obs")})
            row["method"] = str(res.iloc[0]["method"])
        rows.append(row)
        # every follow-up of this kind counts, whether or not it has an outcome value: one the assistant did not
        # end is a 0 (follow_ups gives follow_up_ended as 0/1 for every follow-up it found)
        ended_flags = (links.loc[links["follow_up_kind"] == kind, "follow_up_ended"] if kind == "new_chat"
                       else _branches_ended_again(conversations))
        again = _wilson_row("ended_again", kind, ended_flags, confidence, contrast=kind)
        again["method"] = f"share of {kind} follow-ups the assistant ended again; Wilson score interval"
        rows.append(again)
    return make_result(rows, ("group", "count"))
