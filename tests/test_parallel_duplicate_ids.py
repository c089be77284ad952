"""score_files (any --jobs, byte ranges included) treats a repeated conversation id as welfare.load does."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import welfare
from welfare.io import LogFormatError
from welfare.parallel import score_files


def _record(cid: str, text: str = "I can't help with that.") -> dict:
    return {"id": cid, "metadata": {"condition": "a"},
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": text}]}


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_repeat_in_a_later_byte_range_fails_strict_naming_both_records(tmp_path: Path, jobs: int) -> None:
    records = [_record(f"c{k}") for k in range(40)] + [_record("c3", "a different conversation")]
    path = _jsonl(tmp_path / "run.jsonl", records)
    with pytest.raises(LogFormatError, match=r"record 41: conversation id 'c3' was already read from record 4 of "
                                             r"this file") as info:
        score_files(path, tmp_path / "s.parquet", jobs=jobs, chunk_bytes=400)
    with pytest.raises(LogFormatError) as same:
        welfare.load_all(path)
    assert str(info.value) == str(same.value)  # same message, same record number as welfare.load
    assert not (tmp_path / "s.parquet").exists()


@pytest.mark.parametrize("jobs", [1, 2])
def test_lenient_drops_the_later_copies_and_gives_load_s_rows(tmp_path: Path, jobs: int) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    plain = _jsonl(logs / "run.jsonl", [_record(f"c{k}") for k in range(30)] + [_record("c0", "again")])
    with open(plain, "rb") as src, gzip.open(logs / "run.jsonl.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    report = welfare.LoadReport()
    score_files(logs, tmp_path / "s.parquet", jobs=jobs, strict=False, report=report, chunk_bytes=500)
    expected = welfare.LoadReport()
    kept = welfare.load_all(logs, strict=False, report=expected)
    conv = pd.read_parquet(tmp_path / "s.conversations.parquet")
    assert list(conv["conversation_id"]) == [t.id for t in kept]
    assert not conv.duplicated(["conversation_id", "branch_id"]).any()
    assert (report.read, report.loaded) == (expected.read, expected.loaded) == (62, 30)
    assert sorted(r.reason for r in report.rejected) == sorted(r.reason for r in expected.rejected)
    direct = welfare.score(kept).messages
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == len(direct)
