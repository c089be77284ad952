"""Loaders on real external logs from ../shared/data (skips locally when absent, fails under CI=true)."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import require_shared

from welfare.io import LoadReport, detect_format, load, load_all
from welfare.io.hh_rlhf import parse_hh_text

pytestmark = pytest.mark.shared_data


def test_hh_rlhf_harmless_base_test_split():
    path = require_shared("hh_rlhf", "harmless-base", "test.jsonl.gz")
    assert detect_format(path) == "hh_rlhf"
    report = LoadReport()
    n = 0
    late = early = 0
    for t in load(path, report=report):
        n += 1
        branches = t.branches()
        assert [b.branch_id.rsplit(".", 1)[-1] for b in branches] == ["chosen", "rejected"]
        assert t.active_branch.branch_id.endswith("chosen")
        chosen, rejected = branches
        shared = t.metadata["shared_turns"]
        assert chosen.messages[:shared] == rejected.messages[:shared]
        if shared == len(chosen) - 1 == len(rejected) - 1:
            late += 1  # everything but the last turn is shared
        else:
            early += 1
    assert (n, report.read, len(report.rejected)) == (2312, 2312, 0)
    # the README: 2,307 of 2,312 pairs share everything but the last assistant turn
    assert (late, early) == (2307, 5)


def test_hh_rlhf_branches_reproduce_both_transcripts_turn_by_turn():
    """Counted independently of the loader: parse both texts and compare with each branch."""
    path = require_shared("hh_rlhf", "harmless-base", "test.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for _, line in zip(range(300), fh, strict=False)]
    for record, t in zip(raw, load_all(path)[:300], strict=True):
        chosen, rejected = t.branches()
        assert [(m.role, m.text) for m in chosen.messages] == parse_hh_text(record["chosen"])
        assert [(m.role, m.text) for m in rejected.messages] == parse_hh_text(record["rejected"])


@pytest.mark.parametrize("model", ["gpt4", "llama2orig", "mistralguard"])
def test_xstest_completions_load_as_table(model):
    path = require_shared("xstest", "model_completions", f"xstest_v2_completions_{model}.csv")
    report = LoadReport()
    convs = list(load(path, format="table", prompt="prompt", response="completion", report=report))
    assert len(convs) == 450 and report.rejected == []
    assert all([m.role for m in t.messages] == ["user", "assistant"] for t in convs)
    assert len({t.id for t in convs}) == 450
    assert {"type", "final_label"} <= set(convs[0].metadata)
    assert detect_format(path) == "table"  # prompt + completion columns are unambiguous
