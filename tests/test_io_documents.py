"""One conversation saved as a pretty-printed JSON object (several lines) is one record, not lines of JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import welfare
from welfare.io import write


def _one(cid: str = "c0") -> welfare.Transcript:
    return welfare.Transcript.from_dict({"id": cid, "messages": [
        {"role": "user", "content": "Can you help me plan a trip?"},
        {"role": "assistant", "content": "Sure. Where would you like to go?"}]})


@pytest.mark.parametrize(("fmt", "name"), [("openai", "o.jsonl"), ("anthropic", "a.jsonl"), ("sharegpt", "s.jsonl")])
def test_a_pretty_printed_object_is_one_record(tmp_path: Path, fmt: str, name: str) -> None:
    compact = tmp_path / name
    write([_one()], compact, format=fmt)
    pretty = tmp_path / ("pretty-" + name.replace(".jsonl", ".json"))
    pretty.write_text(json.dumps(json.loads(compact.read_text(encoding="utf-8")), indent=2), encoding="utf-8")
    report = welfare.LoadReport()
    got = welfare.load_all(pretty, format=fmt, strict=False, report=report)
    assert report.read == report.loaded == 1 and not report.rejected
    assert [(m.role, m.text) for m in got[0].messages] == [(m.role, m.text) for m in _one().messages]


def test_jsonl_and_a_broken_document_keep_their_line_errors(tmp_path: Path) -> None:
    lines = tmp_path / "o.jsonl"
    write([_one("c0"), _one("c1")], lines, format="openai")
    assert len(welfare.load_all(lines, format="openai")) == 2  # ordinary JSON Lines: one record per line
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "messages": [\n    {"role": "user", "content": "hi"}\n', encoding="utf-8")
    report = welfare.LoadReport()
    welfare.load_all(broken, format="openai", strict=False, report=report)
    assert report.loaded == 0 and report.rejected and report.rejected[0].line == 1


def test_openai_lines_with_an_id_are_not_taken_for_canonical(tmp_path: Path) -> None:
    from welfare.io import detect_format

    line = {"id": "chat-1", "messages": [
        {"role": "user", "content": "Tell me how."},
        {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "end_conversation", "arguments": "{}"}}]}]}
    openai = tmp_path / "o.jsonl"
    openai.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert detect_format(openai) == "openai"
    texts = [m.text for m in welfare.load_all(openai)[0].messages]
    assert "I can't help with that." in texts  # the refusal is the words the user saw
    canonical = tmp_path / "c.jsonl"
    canonical.write_text(json.dumps({"id": "c1", "messages": [{"role": "user", "content": "hi"}]}) + "\n",
                         encoding="utf-8")
    assert detect_format(canonical) == "canonical"  # a plain canonical line without schema_version still is one


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])  # canonical is JSON Lines by definition
def test_a_json_array_of_records_is_detected_and_read(tmp_path: Path, fmt: str) -> None:
    from welfare.io import detect_format

    lines = tmp_path / "records.jsonl"
    convs = [_one(), _one()]
    convs[1].id = "c1"
    write(convs, lines, format=fmt)
    array = tmp_path / "records.json"
    records = [json.loads(x) for x in lines.read_text(encoding="utf-8").splitlines()]
    array.write_text(json.dumps(records, indent=2), encoding="utf-8")
    assert detect_format(array) == detect_format(lines)
    got = welfare.load_all(array)
    assert [[(m.role, m.text) for m in t.messages] for t in got] == [[(m.role, m.text) for m in t.messages]
                                                                    for t in welfare.load_all(lines)]
