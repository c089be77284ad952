"""Property tests of the data model on random message trees (hypothesis)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import welfare.io as wio
from welfare import Transcript
from welfare.io import load_all, read_canonical, write_canonical

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
BLOCK = st.one_of(st.builds(lambda t: {"type": "text", "text": t}, TEXT),
                  st.builds(lambda t: {"type": "thinking", "thinking": t, "signature": "s"}, TEXT))
CONTENT = st.one_of(TEXT, st.lists(BLOCK, max_size=3))


@st.composite
def trees(draw, roles=("system", "user", "assistant", "tool")):
    """A transcript whose messages form a forest: message i's parent is None or an earlier message."""
    n = draw(st.integers(min_value=1, max_value=12))
    parents: list[int | None] = [None]
    for i in range(1, n):
        parents.append(draw(st.one_of(st.none(), st.integers(min_value=0, max_value=i - 1))))
    messages = []
    for i in range(n):
        m = {"id": f"m{i}", "role": draw(st.sampled_from(roles)), "content": draw(CONTENT)}
        if m["role"] == "assistant" and draw(st.booleans()):
            m["tool_calls"] = [{"name": draw(st.sampled_from(["search", "end_conversation"])),
                                "arguments": {"q": draw(TEXT)}, "id": f"call{i}"}]
        if parents[i] is not None:
            m["parent"] = f"m{parents[i]}"
        messages.append(m)
    current = draw(st.one_of(st.none(), st.sampled_from([m["id"] for m in messages])))
    data = {"id": draw(st.text(min_size=1, max_size=8)), "messages": messages}
    if current is not None:
        data["current"] = current
    if draw(st.booleans()):
        data["metadata"] = {"condition": draw(TEXT), "n": draw(st.integers(-(2**63) + 1, 2**63 - 1))}  # ijson rejects ints outside this
    return Transcript.from_dict(data)


def children_of(t: Transcript) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {m.id: [] for m in t.messages if m.id}
    for m in t.messages:
        if m.parent is not None:
            kids[m.parent].append(m.id)
    return kids


@settings(deadline=None)  # timing on a shared CI machine is not what this checks
@given(trees())
def test_every_branch_is_a_root_to_leaf_path_and_there_is_one_per_leaf(t):
    branches = t.branches()
    if not t.is_tree:  # no parent links: the list is one branch
        assert len(branches) == 1 and list(branches[0].messages) == t.messages
        return
    kids = children_of(t)
    leaves = [mid for mid, k in kids.items() if not k]
    assert len(branches) == len(leaves)
    assert sorted(b.branch_id for b in branches) == sorted(leaves)
    for b in branches:
        assert b.messages[0].parent is None
        for before, after in zip(b.messages, b.messages[1:], strict=False):
            assert after.parent == before.id
        assert not kids[b.messages[-1].id]
    assert sum(b.is_active for b in branches) == 1
    if t.current is not None:
        assert any(m.id == t.current for m in t.active_branch.messages)


@settings(deadline=None)
@given(trees())
def test_canonical_round_trip_is_identity(t):
    assert Transcript.from_dict(t.to_dict()).to_dict() == t.to_dict()
    buffer = io.StringIO()
    write_canonical([t], buffer)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.jsonl"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        (back,) = list(read_canonical(path))
    assert back.to_dict() == t.to_dict()


def _paths(t: Transcript) -> list[list[tuple[str, str]]]:
    return sorted([(m.role, m.text) for m in b.messages] for b in t.branches())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(roles=("user", "assistant")), st.sampled_from(["chatgpt", "claude"]))
def test_tree_exports_keep_every_branch(t, fmt):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "conversations.json"
        wio.write([t], path, format=fmt)
        (back,) = load_all(path, format=fmt)
    assert _paths(back) == _paths(t)
    assert [m.text for m in back.active_branch.messages] == [m.text for m in t.active_branch.messages]
    calls = sorted([[c.name for m in b.messages for c in m.calls()] for b in t.branches()])
    assert sorted([[c.name for m in b.messages for c in m.calls()] for b in back.branches()]) == calls
    assert back.ending == t.ending  # an end_conversation call survives the export
