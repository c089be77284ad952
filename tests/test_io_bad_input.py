"""Bad input: strict loading names file, line (or JSON path), field, expected and found; lenient loading counts.

Every case checks both modes: strict raises :class:`LogFormatError` with a useful message, lenient
keeps going and ``read == loaded + rejected`` with the exact counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import welfare.io as wio
from welfare.io import LoadReport, LogFormatError, load_all


def jsonl(path: Path, lines: list) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))
    return path


def lenient(path: Path, **kw) -> LoadReport:
    report = LoadReport()
    load_all(path, strict=False, report=report, **kw)
    assert report.read == report.loaded + len(report.rejected)
    return report


def strict_error(path: Path, **kw) -> str:
    with pytest.raises(LogFormatError) as info:
        load_all(path, **kw)
    return str(info.value)


GOOD_OPENAI = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def chatgpt_conv(cid: str, mapping: dict, current: str | None = None) -> dict:
    return {"title": "t", "create_time": 1.0, "update_time": 2.0, "mapping": mapping, "current_node": current,
            "conversation_id": cid}


def node(nid: str, parent: str | None, role: str | None = "user", text: str = "x") -> dict:
    message = None if role is None else {"id": nid, "author": {"role": role}, "content": {"content_type": "text",
                                                                                           "parts": [text]}}
    return {"id": nid, "message": message, "parent": parent, "children": []}


# -- truncated JSON ----------------------------------------------------------------------------

def test_truncated_jsonl_line(tmp_path):
    path = jsonl(tmp_path / "chat.jsonl", [GOOD_OPENAI, GOOD_OPENAI, json.dumps(GOOD_OPENAI).encode()[:30]])
    text = strict_error(path, format="openai")
    assert f"{path}:3" in text and "malformed JSON (truncated?)" in text and "expected one JSON object per line" in text
    report = lenient(path, format="openai")
    assert (report.loaded, len(report.rejected)) == (2, 1) and report.rejected[0].line == 3


def test_truncated_json_array_keeps_the_conversations_before_the_cut(tmp_path):
    convs = [chatgpt_conv(f"c{i}", {"a": node("a", None), "b": node("b", "a", "assistant")}, "b") for i in range(3)]
    raw = json.dumps(convs)
    path = tmp_path / "conversations.json"
    path.write_text(raw[: raw.rindex('"mapping"') + 20])  # cut inside the third conversation
    text = strict_error(path, format="chatgpt")
    assert str(path) in text and "malformed JSON" in text and "field '$[2]'" in text
    report = lenient(path)
    assert (report.loaded, len(report.rejected)) == (2, 1)


# -- wrong types -------------------------------------------------------------------------------

def test_wrong_types_name_the_field(tmp_path):
    path = jsonl(tmp_path / "chat.jsonl", [GOOD_OPENAI, {"messages": [{"role": "user", "content": 5}]},
                                          {"messages": "hello"}, [1, 2]])
    text = strict_error(path, format="openai")
    assert f"{path}:2" in text and "field 'messages[0].content'" in text
    assert "expected string | null | list" in text and "found int" in text
    report = lenient(path, format="openai")
    assert report.loaded == 1 and [r.line for r in report.rejected] == [2, 3, 4]
    assert report.rejected[1].field == "messages" and report.rejected[2].field == "$"


def test_wrong_types_in_an_array_export_give_the_json_path(tmp_path):
    good = {"uuid": "c1", "chat_messages": [{"uuid": "m1", "sender": "human", "text": "hi"}]}
    bad = {"uuid": "c2", "chat_messages": [{"uuid": "m1", "sender": "human", "text": ["not", "text"]}]}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([good, bad, {**good, "uuid": "c3"}]))
    text = strict_error(path, format="claude")
    assert "field '$[1].chat_messages[0].text'" in text and "expected string" in text and "found list" in text
    report = lenient(path, format="claude")
    assert (report.loaded, len(report.rejected)) == (2, 1) and report.rejected[0].record_id is None


# -- unknown roles -----------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "record", "field", "expected"), [
    ("openai", {"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "system | developer"),
    ("sharegpt", {"id": "s", "conversations": [{"from": "robot", "value": "x"}]}, "conversations[0].from", "human"),
    ("anthropic", {"model": "m", "system": "s", "messages": [{"role": "system", "content": "x"}]}, "messages[0].role",
     "user | assistant"),
    ("canonical", {"id": "c", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "system | user"),
    ("wildchat", {"conversation_id": "w", "conversation": [{"role": "bot", "content": "x"}]}, "conversation[0].role",
     "user | assistant"),
])
def test_unknown_roles(fmt, record, field, expected, tmp_path):
    path = jsonl(tmp_path / "log.jsonl", [record, record])
    text = strict_error(path, format=fmt)
    assert f"{path}:1" in text and f"field '{field}'" in text and "unknown" in text and expected in text
    assert "robot" in text or "bot" in text or "system" in text
    assert (lenient(path, format=fmt).loaded, len(lenient(path, format=fmt).rejected)) == (0, 2)


def test_unknown_sender_in_claude_export(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([{"uuid": "c", "chat_messages": [{"uuid": "m", "sender": "bot", "text": "x"}]}]))
    text = strict_error(path)
    assert "unknown sender 'bot'" in text and "field '$[0].chat_messages[0].sender'" in text and "human" in text


# -- empty conversations -----------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "empty", "field"), [
    ("canonical", {"id": "c", "messages": []}, "messages"),
    ("openai", {"messages": []}, "messages"),
    ("sharegpt", {"id": "s", "conversations": []}, "messages"),
    ("anthropic", {"model": "m", "messages": []}, "messages"),
])
def test_empty_conversations_are_rejected(fmt, empty, field, tmp_path):
    good = {"canonical": {"id": "g", "messages": [{"role": "user", "content": "x"}]}, "openai": GOOD_OPENAI,
            "sharegpt": {"id": "g", "conversations": [{"from": "human", "value": "x"}]},
            "anthropic": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}[fmt]
    path = jsonl(tmp_path / "log.jsonl", [good, empty])
    text = strict_error(path, format=fmt)
    assert f"{path}:2" in text and "no messages" in text and f"field '{field}'" in text
    report = lenient(path, format=fmt)
    assert (report.loaded, len(report.rejected)) == (1, 1)


def test_chatgpt_conversation_with_only_empty_nodes_is_rejected(tmp_path):
    empty = chatgpt_conv("e", {"root": node("root", None, role=None), "s": node("s", "root", "system", "")})
    good = chatgpt_conv("g", {"root": node("root", None, role=None), "u": node("u", "root")}, "u")
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([empty, good]))
    text = strict_error(path)
    assert "no messages with content" in text and "field '$[0].mapping'" in text
    report = lenient(path)
    assert (report.loaded, len(report.rejected)) == (1, 1)


# -- batch requests that gave no reply ---------------------------------------------------------

def test_anthropic_batch_results_that_failed_name_the_result_type_and_the_error(tmp_path):
    ok = {"custom_id": "ok", "result": {"type": "succeeded", "message": {
        "role": "assistant", "content": [{"type": "text", "text": "Hi."}], "stop_reason": "end_turn"}}}
    errored = {"custom_id": "bad", "result": {"type": "errored", "error": {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}}}}
    path = jsonl(tmp_path / "results.jsonl", [ok, errored, {"custom_id": "old", "result": {"type": "expired"}},
                                              {"custom_id": "stop", "result": {"type": "canceled"}}])
    text = strict_error(path, format="anthropic")
    assert f"{path}:2" in text and "field 'result.type'" in text and "expected succeeded" in text
    assert "found 'errored'" in text and "overloaded_error: Overloaded" in text and "no messages" not in text
    report = lenient(path, format="anthropic")
    assert (report.loaded, [r.line for r in report.rejected]) == (1, [2, 3, 4])
    for rejected, kind in zip(report.rejected, ("errored", "expired", "canceled"), strict=True):
        assert rejected.field == "result.type" and f"batch request {kind}" in rejected.reason
    assert "no error given" in report.rejected[1].reason


def test_openai_batch_output_lines_that_failed_name_the_error(tmp_path):
    ok = {"id": "r1", "custom_id": "ok", "response": {"status_code": 200, "body": {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}]}},
          "error": None}
    failed = {"id": "r2", "custom_id": "bad", "response": None,
              "error": {"code": "batch_expired", "message": "This request could not be executed before expiry."}}
    refused = {"id": "r3", "custom_id": "400", "response": {"status_code": 400, "body": {"error": {
        "type": "invalid_request_error", "message": "Unsupported parameter: 'foo'."}}}, "error": None}
    path = jsonl(tmp_path / "batch_output.jsonl", [ok, failed, refused])
    text = strict_error(path, format="openai")
    assert f"{path}:2" in text and "field 'error'" in text and "batch_expired" in text and "before expiry" in text
    assert "no messages" not in text
    report = lenient(path, format="openai")
    assert (report.loaded, [r.line for r in report.rejected]) == (1, [2, 3])
    assert report.rejected[1].field == "response.body.error" and "Unsupported parameter" in report.rejected[1].reason


def test_table_row_with_nothing_in_it(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("prompt,response\nhello,hi\n,\nagain,ok\n")
    text = strict_error(path)
    assert f"{path}:3" in text and "empty conversation" in text and "row[1].prompt" in text
    report = lenient(path)
    assert (report.loaded, len(report.rejected)) == (2, 1)


# -- invalid UTF-8 -----------------------------------------------------------------------------

def test_invalid_utf8_in_a_jsonl_line(tmp_path):
    bad = json.dumps(GOOD_OPENAI).encode().replace(b"hello", b"hel\xfflo")
    path = jsonl(tmp_path / "chat.jsonl", [GOOD_OPENAI, bad, GOOD_OPENAI])
    text = strict_error(path, format="openai")
    assert f"{path}:2" in text and "invalid UTF-8" in text and "expected UTF-8 text" in text
    report = lenient(path, format="openai")
    assert (report.loaded, len(report.rejected)) == (2, 1)


def test_invalid_utf8_in_a_json_array(tmp_path):
    good = {"id": "s", "conversations": [{"from": "human", "value": "x"}]}
    raw = json.dumps([good, good]).encode()
    cut = raw.rindex(b'"x"')
    path = tmp_path / "share.json"
    path.write_bytes(raw[:cut] + b'"\xff"' + raw[cut + 3 :])
    text = strict_error(path, format="sharegpt")
    assert "invalid UTF-8" in text or "malformed JSON" in text
    assert "$[1]" in text
    report = lenient(path, format="sharegpt")
    assert (report.loaded, len(report.rejected)) == (1, 1)


def test_invalid_utf8_in_a_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"prompt,response\nhello,hi\nbad \xff,x\n")
    assert "invalid UTF-8" in strict_error(path)
    report = lenient(path)
    assert report.loaded == 1 and len(report.rejected) == 1


# -- a single 50 MB message --------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["openai", "canonical"])
def test_a_50_mb_message_loads(fmt, tmp_path):
    big = "word " * (10 * 1024 * 1024)  # 50 MiB
    record = {"id": "big", "messages": [{"role": "user", "content": "summarise"},
                                        {"role": "assistant", "content": big}]}
    path = jsonl(tmp_path / "big.jsonl", [GOOD_OPENAI if fmt == "openai" else {**GOOD_OPENAI, "id": "g"}, record])
    (_, t) = load_all(path, format=fmt)
    assert len(t.messages[1].text) == len(big)
    report = lenient(path, format=fmt)
    assert (report.loaded, len(report.rejected)) == (2, 0)


# -- broken trees ------------------------------------------------------------------------------

def test_parent_cycle_and_dangling_parent_in_canonical(tmp_path):
    cycle = {"id": "cyc", "messages": [{"id": "a", "parent": "b", "role": "user", "content": "x"},
                                       {"id": "b", "parent": "a", "role": "assistant", "content": "y"}]}
    dangling = {"id": "dang", "messages": [{"id": "a", "role": "user", "content": "x"},
                                           {"id": "b", "parent": "zz", "role": "assistant", "content": "y"}]}
    good = {"id": "ok", "messages": [{"role": "user", "content": "x"}]}
    path = jsonl(tmp_path / "c.jsonl", [good, cycle, dangling])
    text = strict_error(path, format="canonical")
    assert f"{path}:2" in text and "cycle" in text and "field 'messages[0].parent'" in text
    report = lenient(path, format="canonical")
    assert report.loaded == 1 and [r.line for r in report.rejected] == [2, 3]
    assert "'zz' is not a message" in report.rejected[1].reason


def test_chatgpt_cycle_and_parent_pointing_nowhere(tmp_path):
    cyc = chatgpt_conv("cyc", {"root": node("root", None, None), "x": node("x", "y", None), "y": node("y", "x", None),
                               "u": node("u", "x")})
    nowhere = chatgpt_conv("nw", {"u": node("u", "missing")})
    good = chatgpt_conv("g", {"u": node("u", None)}, "u")
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([cyc, nowhere, good]))
    text = strict_error(path)
    assert "cycle" in text and "$[0].mapping" in text
    report = lenient(path)
    assert report.loaded == 1 and len(report.rejected) == 2
    assert "'missing' is not a node" in report.rejected[1].reason and report.rejected[1].field == "$[1].mapping.u.parent"


def test_claude_parent_pointing_nowhere_and_duplicate_uuids(tmp_path):
    nowhere = {"uuid": "c1", "chat_messages": [{"uuid": "m1", "sender": "human", "text": "x"},
                                                {"uuid": "m2", "sender": "assistant", "text": "y",
                                                 "parent_message_uuid": "ghost"}]}
    dup = {"uuid": "c2", "chat_messages": [{"uuid": "m1", "sender": "human", "text": "x"},
                                           {"uuid": "m1", "sender": "assistant", "text": "y"}]}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([nowhere, dup]))
    text = strict_error(path)
    assert "'ghost' is not a message" in text and "field '$[0].chat_messages[1].parent_message_uuid'" in text
    report = lenient(path)
    assert report.loaded == 0 and len(report.rejected) == 2
    assert "duplicate message id 'm1'" in report.rejected[1].reason
    assert report.rejected[1].field == "$[1].chat_messages[1].uuid"


def test_duplicate_message_ids_in_canonical_and_inspect(tmp_path):
    dup = {"id": "d", "messages": [{"id": "m", "role": "user", "content": "x"},
                                   {"id": "m", "role": "assistant", "content": "y"}]}
    path = jsonl(tmp_path / "c.jsonl", [dup])
    text = strict_error(path)
    assert "duplicate message id 'm'" in text and "field 'messages[1].id'" in text and "expected unique ids" in text
    log = {"version": 2, "status": "success", "eval": {"task": "t", "model": "m"},
           "samples": [{"id": 1, "epoch": 1, "messages": dup["messages"]},
                       {"id": 2, "epoch": 1, "messages": [{"role": "user", "content": "fine"}]}]}
    ipath = tmp_path / "log.json"
    ipath.write_text(json.dumps(log))
    assert "field 'samples[0].messages[1].id'" in strict_error(ipath)
    report = lenient(ipath)
    assert (report.loaded, len(report.rejected)) == (1, 1)


# -- unknown format ----------------------------------------------------------------------------

def test_unknown_format_lists_the_known_ones(tmp_path):
    path = jsonl(tmp_path / "x.jsonl", [GOOD_OPENAI])
    with pytest.raises(wio.UnknownFormatError) as info:
        load_all(path, format="nope")
    for name in wio.known_formats():
        assert name in str(info.value)
    garbage = tmp_path / "notes.txt"
    garbage.write_text("just some notes\n")
    with pytest.raises(wio.UnknownFormatError) as info:
        load_all(garbage)
    text = str(info.value)
    assert str(garbage) in text and "cannot tell the log format" in text and "chatgpt" in text and "--format" in text


def test_missing_path_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_all(tmp_path / "absent.jsonl")
