"""A UTF-8 byte-order mark at the start of a log (Windows tools and some editors write one) changes nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import welfare
from welfare.io import detect_format, write
from welfare.parallel import score_files
from welfare.score import conversations_path

BOM = b"\xef\xbb\xbf"


def _convs() -> list[welfare.Transcript]:
    return [welfare.Transcript.from_dict({"id": f"c{k}", "metadata": {"condition": "a"}, "messages": [
        {"role": "user", "content": f"Question {k}: can you help me?"},
        {"role": "assistant", "content": "I'm sorry, but I can't help with that."}]}) for k in range(3)]


@pytest.mark.parametrize(("fmt", "name"), [("canonical", "c.jsonl"), ("openai", "o.jsonl"), ("anthropic", "a.jsonl"),
                                           ("sharegpt", "s.json"), ("chatgpt", "conversations.json"),
                                           ("claude", "conversations.json"), ("inspect", "log.json")])
@pytest.mark.parametrize("gz", [False, True])
def test_a_bom_at_the_start_is_not_content(tmp_path: Path, fmt: str, name: str, gz: bool) -> None:
    plain = tmp_path / "plain" / name
    plain.parent.mkdir()
    write(_convs(), plain, format=fmt)
    marked = tmp_path / "bom" / (name + (".gz" if gz else ""))
    marked.parent.mkdir()
    data = BOM + plain.read_bytes()
    marked.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    assert detect_format(marked) == detect_format(plain)  # (a plain Anthropic chat reads as OpenAI either way)
    report = welfare.LoadReport()
    got = welfare.load_all(marked, strict=False, report=report)
    assert report.loaded == 3 and not report.rejected
    want = welfare.load_all(plain)
    assert [[(m.role, m.text) for m in t.messages] for t in got] == [[(m.role, m.text) for m in t.messages]
                                                                       for t in want]


def test_scoring_a_canonical_log_with_a_bom_in_byte_ranges(tmp_path: Path) -> None:
    plain, marked = tmp_path / "plain.jsonl", tmp_path / "marked.jsonl"
    write(_convs(), plain, format="canonical")
    marked.write_bytes(BOM + plain.read_bytes())
    score_files(plain, tmp_path / "a.csv", jobs=1, hash_inputs=False)
    prov = score_files(marked, tmp_path / "b.csv", jobs=1, chunk_bytes=80, hash_inputs=False)  # several ranges
    assert prov["branches"] == 3
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert conversations_path(tmp_path / "a.csv").read_bytes() == conversations_path(tmp_path / "b.csv").read_bytes()
