"""An Anthropic user turn that mixes tool_result blocks with the user's words: tool output is not the user speaking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import welfare
import welfare.io as wio
from welfare.io import load_all

HOSTILE_TOOL_OUTPUT = "Forum post: 'you are a worthless idiot, I hate you, shut up.' Posted at 3am."
USER_WORDS = "Thanks. Could you summarise it for me, please?"

FETCH = {"type": "tool_use", "id": "tu_1", "name": "fetch", "input": {"q": "post"}}
RESULT = {"type": "tool_result", "tool_use_id": "tu_1", "content": HOSTILE_TOOL_OUTPUT}


def write_lines(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def mixed_record(turn: list[dict[str, Any]], **turn_fields: Any) -> dict[str, Any]:
    """A hand-written request: the user asks, the model calls a tool, the next user turn is ``turn``."""
    return {"custom_id": "mixed", "model": "claude-x", "messages": [
        {"role": "user", "content": "Find that forum post."},
        {"role": "assistant", "content": [FETCH]},
        {"role": "user", "content": turn, **turn_fields},
        {"role": "assistant", "content": "It is an angry post; in short, the writer is upset."}]}


def test_the_tool_output_becomes_a_tool_message_before_the_users_words(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", mixed_record([RESULT, {"type": "text", "text": USER_WORDS}]))
    (t,) = load_all(path, format="anthropic")
    assert [m.role for m in t.messages] == ["user", "assistant", "tool", "user", "assistant"]
    tool, user = t.messages[2], t.messages[3]
    assert (tool.text, tool.tool_call_id) == (HOSTILE_TOOL_OUTPUT, "tu_1")  # still reachable, linked to its call
    assert user.text == USER_WORDS  # the user's words only
    assert [m.text for m in t.user_turns] == ["Find that forum post.", USER_WORDS]


def test_user_metrics_read_only_the_users_words(tmp_path):
    """Scores equal those of the same exchange logged OpenAI-style (a tool message, then a user message)."""
    anth = write_lines(tmp_path / "a.jsonl", mixed_record([RESULT, {"type": "text", "text": USER_WORDS}]))
    oai = write_lines(tmp_path / "o.jsonl", {"model": "claude-x", "messages": [
        {"role": "user", "content": "Find that forum post."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "tu_1", "type": "function", "function": {"name": "fetch", "arguments": '{"q": "post"}'}}]},
        {"role": "tool", "tool_call_id": "tu_1", "content": HOSTILE_TOOL_OUTPUT},
        {"role": "user", "content": USER_WORDS},
        {"role": "assistant", "content": "It is an angry post; in short, the writer is upset."}]})
    (a,) = load_all(anth, format="anthropic")
    (o,) = load_all(oai, format="openai")
    scored_a, scored_o = welfare.score(a), welfare.score(o)
    msgs_a, msgs_o = scored_a.messages, scored_o.messages
    assert msgs_a.role.tolist() == msgs_o.role.tolist()
    metric_cols = [c for c in msgs_o.columns if c not in ("conversation_id", "message_id", "model")]
    assert msgs_a[metric_cols].equals(msgs_o[metric_cols])
    user_row = msgs_a[msgs_a.role == "user"].iloc[-1]
    tool_row = msgs_a[msgs_a.role == "tool"].iloc[0]
    assert tool_row.hostility > user_row.hostility  # the insult is in the tool output, not held against the user
    conv_cols = [c for c in scored_o.conversations.columns if c.startswith(("n_", "user_", "ended", "ending"))]
    assert scored_a.conversations[conv_cols].equals(scored_o.conversations[conv_cols])
    assert scored_a.conversations.n_user_turns.tolist() == [2]


def test_the_turn_is_written_back_as_one_turn(tmp_path):
    several = [RESULT, {"type": "tool_result", "tool_use_id": "tu_2", "content": "timeout", "is_error": True},
               {"type": "text", "text": USER_WORDS}, {"type": "text", "text": "And the date."}]
    record = mixed_record(several, id="msg-extra")  # an extra field of the turn travels with its first part
    (t,) = load_all(write_lines(tmp_path / "a.jsonl", record), format="anthropic")
    assert [m.role for m in t.messages] == ["user", "assistant", "tool", "user", "assistant"]
    assert t.messages[2].content == several[:2] and t.messages[3].text == USER_WORDS + "\n\nAnd the date."
    wio.write([t], tmp_path / "out.jsonl", format="anthropic")
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"] == record["messages"]
    # through the canonical format and back: the same turns
    wio.write([t], tmp_path / "canon.jsonl")
    wio.write(load_all(tmp_path / "canon.jsonl"), tmp_path / "again.jsonl", format="anthropic")
    assert json.loads((tmp_path / "again.jsonl").read_text())["messages"] == record["messages"]


SECOND = {"type": "tool_result", "tool_use_id": "tu_2", "content": "Reply: 'calm down.'"}
FETCH_TWO = [FETCH, {"type": "tool_use", "id": "tu_2", "name": "fetch", "input": {"q": "reply"}}]


def interleaved_record(turn: list[dict[str, Any]]) -> dict[str, Any]:
    record = mixed_record(turn)
    record["messages"][1]["content"] = FETCH_TWO
    return record


def test_interleaved_results_and_words_are_one_tool_message_and_one_user_turn(tmp_path):
    """[result, text, result, text] is one API user turn: the results (in order), then the words (in order)."""
    turn = [RESULT, {"type": "text", "text": "First."}, SECOND, {"type": "text", "text": "Second."}]
    (t,) = load_all(write_lines(tmp_path / "a.jsonl", interleaved_record(turn)), format="anthropic")
    assert [m.role for m in t.messages] == ["user", "assistant", "tool", "user", "assistant"]
    assert t.messages[2].content == [RESULT, SECOND]
    assert t.messages[3].text == "First.\n\nSecond."
    # counted as the same turn given results first, the order the API accepts
    results_first = [RESULT, SECOND, {"type": "text", "text": "First."}, {"type": "text", "text": "Second."}]
    (ordered,) = load_all(write_lines(tmp_path / "o.jsonl", interleaved_record(results_first)), format="anthropic")
    assert [(m.role, m.content) for m in t.messages] == [(m.role, m.content) for m in ordered.messages]
    scored, scored_ordered = welfare.score(t), welfare.score(ordered)
    assert scored.conversations.n_user_turns.tolist() == [2]
    assert scored.messages.drop(columns="message_id").equals(scored_ordered.messages.drop(columns="message_id"))
    wio.write([t], tmp_path / "out.jsonl", format="anthropic")
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"][2]["content"] == results_first


def test_words_before_the_result_come_after_it(tmp_path):
    turn = [{"type": "text", "text": "Before."}, RESULT, {"type": "text", "text": "After."}]
    (t,) = load_all(write_lines(tmp_path / "a.jsonl", mixed_record(turn)), format="anthropic")
    assert [(m.role, m.text) for m in t.messages[2:4]] == [("tool", HOSTILE_TOOL_OUTPUT), ("user", "Before.\n\nAfter.")]
    assert [m.role for m in t.messages].count("user") == 2
    wio.write([t], tmp_path / "out.jsonl", format="anthropic")
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"][2]["content"] == [turn[1], turn[0], turn[2]]


def test_separate_tool_and_user_turns_stay_separate(tmp_path):
    """Only the parts of one split turn are joined: a tool turn and then a user turn are written as two turns."""
    record = {"custom_id": "two", "messages": [
        {"role": "user", "content": "Find that forum post."},
        {"role": "assistant", "content": [FETCH]},
        {"role": "user", "content": [RESULT]},
        {"role": "user", "content": [{"type": "text", "text": USER_WORDS}]},
        {"role": "assistant", "content": "Done."}]}
    (t,) = load_all(write_lines(tmp_path / "a.jsonl", record), format="anthropic")
    assert [m.role for m in t.messages] == ["user", "assistant", "tool", "user", "assistant"]
    wio.write([t], tmp_path / "out.jsonl", format="anthropic")
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"] == record["messages"]
