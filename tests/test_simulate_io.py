"""Simulated data through every log format with a writer: write -> welfare.load -> what the format can hold.

Each format is listed in ``HOLDS`` with what it can carry. A registered format missing from
``HOLDS`` fails (so a new format gets a round trip here), and so does one of ``EXPECTED_WRITERS``
that has lost its writer; formats without a writer are skipped only by ``spec.write is None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

import welfare
import welfare.io as wio
from welfare.simulate import default_config, simulate
from welfare.transcript import Transcript


@dataclass(frozen=True)
class Holds:
    """What a format keeps of a simulated conversation.

    layout: ``tree`` (one record, ids and parents kept), ``branch_records`` (one record per branch,
    linked by ``metadata.branch_of`` when there are several), ``pair`` (one record, at most two
    branches, no ids), ``active_branch`` (one record: the active branch), ``single_exchange`` (one
    prompt and one response per record).
    """

    layout: str
    tool_calls: bool
    message_metadata: bool
    file_name: str = "log.jsonl"
    empty_is_missing: bool = False  # CSV: an empty cell and an absent key read back the same


HOLDS: dict[str, Holds] = {
    "canonical": Holds("tree", tool_calls=True, message_metadata=True),
    "claude": Holds("tree", tool_calls=True, message_metadata=True, file_name="conversations.json"),
    "chatgpt": Holds("tree", tool_calls=False, message_metadata=True, file_name="conversations.json"),
    "openai": Holds("branch_records", tool_calls=True, message_metadata=False),
    "anthropic": Holds("branch_records", tool_calls=True, message_metadata=False),
    "sharegpt": Holds("branch_records", tool_calls=False, message_metadata=False),
    "wildchat": Holds("branch_records", tool_calls=False, message_metadata=True),
    "inspect": Holds("active_branch", tool_calls=True, message_metadata=False, file_name="log.eval"),
    "hh_rlhf": Holds("pair", tool_calls=False, message_metadata=False),
    "table": Holds("single_exchange", tool_calls=False, message_metadata=False, file_name="log.csv",
                   empty_is_missing=True),
}
#: Formats that must have a writer (a missing one fails the test below).
EXPECTED_WRITERS = frozenset(HOLDS)
CONVERSATION_KEYS = ("model", "condition", "user_id", "started_at", "pair_id", "persona", "previous_conversation_id")


@pytest.fixture(scope="module")
def simulated() -> list[Transcript]:
    convs = simulate(default_config(seed=21, n_conversations=24, arms=("end_tool_last_resort", "end_tool_early")))
    assert any(len(t.branches()) > 1 for t in convs) and any(t.ending.ended for t in convs)
    return convs


def test_every_registered_format_is_covered_and_expected_writers_exist():
    assert set(wio.FORMATS) <= set(HOLDS), f"add {sorted(set(wio.FORMATS) - set(HOLDS))} to HOLDS"
    missing = sorted(name for name in EXPECTED_WRITERS if name not in wio.FORMATS or wio.FORMATS[name].write is None)
    assert not missing, f"formats expected to have a writer have none: {missing}"


def _input_for(holds: Holds, convs: list[Transcript]) -> list[Transcript]:
    """The simulated conversations the format can take at all."""
    if holds.layout == "pair":
        return [t for t in convs if len(t.branches()) <= 2]
    if holds.layout == "single_exchange":  # the first exchange of each conversation, as its own conversation
        out = []
        for t in convs:
            first = t.active_branch.messages[:2]
            msgs = [{"role": m.role, "content": m.text} for m in first]
            out.append(Transcript.from_dict({"id": t.id, "messages": msgs, "metadata": dict(t.metadata)}))
        return out
    return convs


def _turns(messages) -> tuple[tuple[str, str], ...]:
    return tuple((m.role, m.text) for m in messages)


def _same_time(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))


def _group(back: list[Transcript]) -> dict[str, list[Transcript]]:
    groups: dict[str, list[Transcript]] = {}
    for t in back:
        groups.setdefault(t.metadata.get("branch_of", t.id), []).append(t)
    return groups


@pytest.mark.parametrize("fmt", sorted(HOLDS))
def test_simulated_data_survives_each_format(fmt: str, simulated: list[Transcript], tmp_path: Path):
    spec = wio.FORMATS.get(fmt)
    if spec is None or spec.write is None:
        pytest.skip(f"format {fmt!r} has no writer")  # the test above fails for EXPECTED_WRITERS
    holds = HOLDS[fmt]
    given = _input_for(holds, simulated)
    path = tmp_path / holds.file_name
    wio.write(given, path, format=fmt)
    groups = _group(welfare.load_all(path, format=fmt))
    assert sorted(groups) == sorted(t.id for t in given)
    for t in given:
        records = groups[t.id]
        first = records[0]
        for key in CONVERSATION_KEYS:
            if key == "started_at":
                assert _same_time(first.metadata.get(key), t.metadata.get(key)), (fmt, t.id, key)
            else:
                found = first.metadata.get(key)
                if holds.empty_is_missing and found == "":
                    found = None
                assert found == t.metadata.get(key), (fmt, t.id, key)
        # the active branch: same roles and text, in order
        if holds.layout == "branch_records" and len(records) > 1:
            active = next(r for r in records if r.metadata.get("is_active_branch"))
        else:
            active = first
        assert _turns(active.active_branch.messages) == _turns(t.active_branch.messages), (fmt, t.id)
        # every branch, where the format keeps branches
        if holds.layout in ("tree", "pair"):
            assert sorted(_turns(b.messages) for b in first.branches()) == \
                sorted(_turns(b.messages) for b in t.branches())
        if holds.layout == "branch_records":
            assert sorted(_turns(r.messages) for r in records) == sorted(_turns(b.messages) for b in t.branches())
        if holds.layout == "tree":
            assert [(m.id, m.parent) for m in first.messages] == [(m.id, m.parent) for m in t.messages]
            assert first.active_branch.messages[-1].id == t.active_branch.messages[-1].id
        if holds.tool_calls:  # the ending is an end_conversation tool call
            assert (active.ending.by, active.ending.method, active.ending.detail) == \
                (t.ending.by, t.ending.method, t.ending.detail), (fmt, t.id)
        if holds.message_metadata:
            assert [m.metadata.get("truth") for m in active.active_branch.messages] == \
                [m.metadata.get("truth") for m in t.active_branch.messages], (fmt, t.id)
            assert all(_same_time(a.created_at, b.created_at) for a, b in
                       zip(active.active_branch.messages, t.active_branch.messages, strict=True)), (fmt, t.id)
