from __future__ import annotations

import pytest

from welfare import Message, Transcript, TranscriptError


def conv(messages, **kw):
    return Transcript.from_dict({"id": "c", "messages": messages, **kw})


def test_linear_conversation_is_one_branch():
    t = conv([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    (b,) = t.branches()
    assert b.branch_id == "0" and b.is_active and len(b) == 2
    assert [m.text for m in t.assistant_turns] == ["hello"]


def test_tree_branches_and_active_current():
    t = conv([
        {"id": "u1", "role": "user", "content": "q"},
        {"id": "a1", "parent": "u1", "role": "assistant", "content": "first"},
        {"id": "a2", "parent": "u1", "role": "assistant", "content": "regenerated"},
    ], current="a1")
    bs = t.branches()
    assert [b.branch_id for b in bs] == ["a1", "a2"]
    assert [b.is_active for b in bs] == [True, False]
    assert all(b.messages[0].id == "u1" for b in bs)


def test_active_defaults_to_last_branch():
    t = conv([
        {"id": "u1", "role": "user", "content": "q"},
        {"id": "a1", "parent": "u1", "role": "assistant", "content": "x"},
        {"id": "u2", "role": "user", "content": "edited q"},
    ])
    assert [b.branch_id for b in t.branches()] == ["a1", "u2"]
    assert t.active_branch.branch_id == "u2"


@pytest.mark.parametrize(
    ("messages", "field", "needle"),
    [
        ([], "messages", "no messages"),
        ([{"role": "robot", "content": "x"}], "messages[0].role", "unknown role"),
        ([{"role": "user", "content": 5}], "messages[0].content", "string or a list"),
        ([{"id": "a", "role": "user", "content": ""}, {"id": "a", "role": "assistant", "content": ""}],
         "messages[1].id", "duplicate"),
        ([{"id": "a", "parent": "zz", "role": "user", "content": ""}], "messages[0].parent", "not a message"),
        ([{"id": "a", "parent": "b", "role": "user", "content": ""},
          {"id": "b", "parent": "a", "role": "assistant", "content": ""}], "messages[0].parent", "cycle"),
    ],
)
def test_invalid_conversations_name_the_field(messages, field, needle):
    with pytest.raises(TranscriptError) as info:
        conv(messages)
    assert info.value.field == field
    assert needle in str(info.value)


def test_ending_by_tool_call_bail_string_stop_reason_and_metadata():
    tool = conv([{"role": "user", "content": "x"},
                 {"role": "assistant", "content": "", "tool_calls": [{"name": "end_conversation"}]}])
    assert (tool.ending.by, tool.ending.method, tool.ending.message_index) == ("assistant", "tool_call", 1)
    blocks = conv([{"role": "user", "content": "x"},
                   {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "end_conversation",
                                                     "input": {}}]}])
    assert blocks.ending.method == "tool_call"
    bail = conv([{"role": "user", "content": "x"}, {"role": "assistant", "content": "SWITCHCONVERSATION"}])
    assert bail.ending.method == "bail_string"
    stop = conv([{"role": "user", "content": "x"},
                 {"role": "assistant", "content": "", "metadata": {"stop_reason": "refusal"}}])
    # a classifier's refusal stop ends the branch, but the platform ended it, not the model
    assert (stop.ending.by, stop.ending.method, stop.ending.detail) == ("system", "stop_reason", "refusal")
    chose = conv([{"role": "user", "content": "x"},
                  {"role": "assistant", "content": "", "metadata": {"stop_reason": "end_conversation"}}])
    assert (chose.ending.by, chose.ending.method) == ("assistant", "stop_reason")
    logged = conv([{"role": "user", "content": "x"}], metadata={"ended_by": "system"})
    assert (logged.ending.by, logged.ending.method) == ("system", "metadata")
    meta = conv([{"role": "user", "content": "bye"}], metadata={"ended_by": "user"})
    assert (meta.ending.by, meta.ending.method) == ("user", "metadata")
    none = conv([{"role": "user", "content": "x"}, {"role": "assistant", "content": "ok"}])
    assert not none.ending.ended


def test_text_joins_text_blocks_and_skips_thinking():
    m = Message(role="assistant", content=[{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "A"},
                                           {"type": "text", "text": "B"}])
    assert m.text == "A\n\nB" and m.thinking == "hmm"


def test_round_trip_to_dict():
    data = {"id": "c", "messages": [{"id": "1", "role": "user", "content": "hi", "created_at": "2025-01-01T00:00:00Z",
                                     "metadata": {"k": 1}},
                                    {"id": "2", "parent": "1", "role": "assistant", "content": "yo",
                                     "tool_calls": [{"name": "f", "arguments": {"a": 1}, "id": "t1"}]}],
            "metadata": {"model": "m", "condition": "A"}}
    assert Transcript.from_dict(data).to_dict() == data
