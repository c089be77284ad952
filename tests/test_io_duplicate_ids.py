"""A conversation id read twice (a record written twice, the same log twice, two runs in one folder) is a bad record.

The score tables key their rows on the conversation id, so a second record with the same id would give two rows with
the same (conversation_id, branch_id), both active, and double n_obs; strict loading stops naming both places,
lenient loading keeps the first and rejects the later ones, so read == loaded + rejected still holds.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

import welfare
from welfare.cli import main
from welfare.io import ConversationIds, LogFormatError, write
from welfare.io.summary import summarize_logs


def _record(cid: str, text: str = "hello") -> dict:
    return {"id": cid, "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "hi"}]}


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_record_written_twice_is_an_error_naming_both_records(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "run.jsonl", [_record("a", "first"), _record("b"), _record("a", "second")])
    with pytest.raises(LogFormatError) as info:
        welfare.load_all(path)
    text = str(info.value)
    assert text.startswith(f"{path}: record 3: conversation id 'a' was already read from record 1 of this file")
    assert "--lenient" in text and "remove the copy" in text

    report = welfare.LoadReport()
    convs = welfare.load_all(path, strict=False, report=report)
    assert [t.id for t in convs] == ["a", "b"] and convs[0].messages[0].text == "first"  # the first is kept
    assert (report.read, report.loaded, len(report.rejected)) == (3, 2, 1)
    assert report.rejected[0].record_id == "a" and report.rejected[0].path == str(path)


def test_the_same_log_beside_its_gzip_copy_is_caught(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    plain = _jsonl(logs / "run.jsonl", [_record("a"), _record("b")])
    with open(plain, "rb") as src, gzip.open(logs / "run.jsonl.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    with pytest.raises(LogFormatError, match=r"run\.jsonl\.gz: record 1: conversation id 'a' was already read from "
                                             r".*run\.jsonl, record 1"):
        welfare.load_all(logs)
    report = welfare.LoadReport()
    assert [t.id for t in welfare.load_all(logs, strict=False, report=report)] == ["a", "b"]
    assert (report.loaded, [r.record_id for r in report.rejected]) == (2, ["a", "b"])


def test_two_runs_sharing_ids_across_formats_are_not_merged(tmp_path: Path) -> None:
    """Different conversations under one id (another run's ShareGPT export beside a canonical log)."""
    _jsonl(tmp_path / "a.jsonl", [_record("user-1", "run one")])
    write([welfare.Transcript.from_dict(_record("user-1", "run two"))], tmp_path / "b_sharegpt.json",
          format="sharegpt")
    with pytest.raises(LogFormatError, match=r"b_sharegpt\.json: record 1: .*'user-1'.*a\.jsonl, record 1"):
        welfare.load_all(tmp_path)
    report = welfare.LoadReport()
    kept = welfare.load_all(tmp_path, strict=False, report=report)
    assert [t.messages[0].text for t in kept] == ["run one"] and report.read == 2


def test_a_file_named_twice_is_caught(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "run.jsonl", [_record("a")])
    with pytest.raises(LogFormatError, match=r"was already read from this record, when this file was read before "
                                             r"\(is .*run.jsonl given more than once\?\)"):
        welfare.load_all([path, path])
    twice = _jsonl(tmp_path / "twice.jsonl", [_record("b"), _record("b")])  # a record written twice in one file
    with pytest.raises(LogFormatError, match="record 2: conversation id 'b' was already read from record 1 of this file"):
        welfare.load_all(twice)


def test_distinct_ids_load_as_before(tmp_path: Path) -> None:
    _jsonl(tmp_path / "a.jsonl", [_record("a1"), _record("a2")])
    _jsonl(tmp_path / "b.jsonl", [_record("b1")])
    report = welfare.LoadReport()
    assert [t.id for t in welfare.load_all(tmp_path, report=report)] == ["a1", "a2", "b1"]
    assert report.read == report.loaded == 3


def test_ids_the_reader_made_from_the_file_name_get_their_own_hint(tmp_path: Path) -> None:
    """Records without an id get '<file stem>:<line>', which repeats across folders holding files of one name."""
    record = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    for folder in ("run1", "run2"):
        (tmp_path / folder).mkdir()
        _jsonl(tmp_path / folder / "train.jsonl", [record])
    with pytest.raises(LogFormatError) as info:
        welfare.load_all(tmp_path, format="sharegpt")
    assert "'train:1'" in str(info.value) and "from the file name" in str(info.value)


def test_hh_rlhf_subsets_with_one_file_name_load_together(tmp_path: Path) -> None:
    """The HH-RLHF release repeats train.jsonl.gz across its subsets; its made-up ids name the folder."""
    pair = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: no"}
    for folder in ("helpful-base", "harmless-base"):
        (tmp_path / folder).mkdir()
        _jsonl(tmp_path / folder / "train.jsonl", [pair])
    ids = [t.id for t in welfare.load_all(tmp_path, format="hh_rlhf")]
    assert ids == ["harmless-base/train:1", "helpful-base/train:1"]


def test_info_reports_duplicates_like_loading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _jsonl(tmp_path / "run.jsonl", [_record("a"), _record("a")])
    assert main(["info", str(path)]) == 1
    assert "record 2: conversation id 'a' was already read" in capsys.readouterr().err
    assert main(["info", str(path), "--lenient", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["read"], shown["loaded"], shown["rejected"], shown["conversations"]) == (2, 1, 1, 1)
    summary = summarize_logs(path, strict=False)
    assert summary.conversations == summary.report.loaded == 1


def test_conversation_ids_remember_only_the_first_place() -> None:
    ids = ConversationIds()
    assert ids.check("x", "a.jsonl", 7) is None and "x" in ids and len(ids) == 1
    again = ids.check("x", "b.jsonl", 2)
    assert again is not None and again.reason == "record 2: conversation id 'x' was already read from a.jsonl, record 7"
    third = ids.check("x", "c.jsonl", 9)
    assert third is not None and "a.jsonl, record 7" in third.reason  # always the first place, not the latest
    assert len(ids) == 1


def test_two_inspect_evals_of_one_task_load_together(tmp_path: Path) -> None:
    import json
    import zipfile

    import welfare

    for n, model in enumerate(("model/a", "model/b")):
        header = {"version": 2, "status": "success",
                  "eval": {"task": "probe", "model": model, "eval_id": f"eval{n}", "run_id": f"run{n}"}}
        sample = {"id": 1, "epoch": 1, "input": "hi",
                  "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
        with zipfile.ZipFile(tmp_path / f"log{n}.eval", "w") as archive:
            archive.writestr("header.json", json.dumps(header))
            archive.writestr("samples/1_epoch_1.json", json.dumps(sample))
    convs = welfare.load_all(tmp_path)  # sample 1 of each eval: two conversations, not one id read twice
    assert sorted(t.id for t in convs) == ["eval0/1_epoch_1", "eval1/1_epoch_1"]
    assert sorted(t.metadata["model"] for t in convs) == ["model/a", "model/b"]
