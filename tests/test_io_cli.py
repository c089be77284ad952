"""``welfare info`` and ``welfare convert``: exit codes and output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from welfare.cli import main
from welfare.io import load_all

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


@pytest.mark.parametrize("command", ["info", "convert"])
def test_help_exits_zero(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--lenient" in out and "--format" in out and "Exit status" in out


def test_info_text_and_json(capsys):
    assert main(["info", str(FIXTURES / "chatgpt" / "conversations.json")]) == 0
    text = capsys.readouterr().out
    assert "[chatgpt]" in text and "conversations: 2" in text and "branches: 3" in text
    assert main(["info", "--json", str(FIXTURES / "hh_rlhf.jsonl")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["conversations"] == 3 and data["branches"] == 5 and data["rejected"] == 0
    assert data["messages_by_role"] == {"assistant": 6, "user": 5}  # shared turns count once


def test_info_table_columns_from_flags(capsys):
    args = ["info", "--json", "--format", "table", "--prompt", "question", "--response", "answer",
            "--system", "system_prompt", str(FIXTURES / "table_custom.tsv")]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["conversations"] == 2 and data["messages_by_role"]["system"] == 1


def test_info_strict_failure_is_exit_1_and_lenient_lists_rejects(tmp_path, capsys):
    bad = tmp_path / "chat.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"role": "robot"}]}\n')
    assert main(["info", "--format", "openai", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and "unknown role 'robot'" in err
    assert "welfare info ... --lenient" in err  # the way on is named
    assert main(["info", "--format", "openai", "--lenient", "--json", str(bad)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["read"], data["loaded"], data["rejected"]) == (2, 1, 1)


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["info"]) == 2
    assert main(["info", "--format", "nope", "x.jsonl"]) == 2
    assert main(["convert", str(FIXTURES / "sharegpt.json")]) == 2  # -o is required
    assert main(["convert", str(FIXTURES / "sharegpt.json"), "-o", str(tmp_path / "out.xyz")]) == 2
    assert "cannot tell the output format" in capsys.readouterr().err
    assert not (tmp_path / "out.xyz").exists()


def test_missing_input_exits_1(tmp_path, capsys):
    assert main(["info", str(tmp_path / "absent.jsonl")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_convert_to_canonical_by_extension_and_to_any_format(tmp_path, capsys):
    out = tmp_path / "new" / "all.jsonl"  # a missing output folder is created
    assert main(["convert", str(FIXTURES / "claude" / "conversations.json"), "-o", str(out)]) == 0
    assert "wrote 2 records as canonical" in capsys.readouterr().out
    convs = load_all(out)
    assert [len(t.branches()) for t in convs] == [1, 2] and convs[0].metadata["source_format"] == "claude"
    share = tmp_path / "share.jsonl"
    assert main(["convert", str(out), "-o", str(share), "--to", "sharegpt", "--branches", "active"]) == 0
    assert [t.id for t in load_all(share, format="sharegpt")] == [convs[0].id, convs[1].id]
    table = tmp_path / "messages.parquet"
    assert main(["convert", str(FIXTURES / "hh_rlhf.jsonl"), "-o", str(table)]) == 0
    assert "as message_table" in capsys.readouterr().out


def test_convert_strict_failure_writes_nothing_and_lenient_writes_the_good_records(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "sharegpt.json", logs / "good.json")
    (logs / "bad.jsonl").write_text('{"id": "x", "conversations": [{"from": "robot", "value": "?"}]}\n')
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(logs), "-o", str(out), "--format", "sharegpt"]) == 1
    assert "unknown speaker 'robot'" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".partial-*"))
    assert main(["convert", str(logs), "-o", str(out), "--format", "sharegpt", "--lenient"]) == 0
    captured = capsys.readouterr()
    assert "read 3, loaded 2, rejected 1" in captured.out and "robot" in captured.err
    assert len(load_all(out)) == 2


def test_convert_to_a_format_that_cannot_hold_the_conversation_exits_1(tmp_path, capsys):
    out = tmp_path / "pairs.jsonl"
    args = ["convert", str(FIXTURES / "openai_chat.jsonl"), "-o", str(out), "--to", "hh_rlhf"]
    assert main(args) == 1
    assert "cannot be written as HH-RLHF" in capsys.readouterr().err and not out.exists()
    assert main(["convert", str(FIXTURES / "sharegpt.json"), "-o", str(tmp_path / "c.json"), "--to", "claude",
                 "--branches", "active"]) == 1
    assert "takes no option 'branches'" in capsys.readouterr().err


def test_info_counts_models_conditions_and_branching(capsys):
    assert main(["info", "--json", str(FIXTURES / "canonical.jsonl")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["models"] == {"model-a": 1, "model-b": 1} and data["conditions"] == {"control": 1, "end_tool": 1}
    assert data["conversations_with_branches"] == 1 and data["branches"] == 3
    assert data["endings"] == {"not ended": 2}  # the end_conversation call is on the inactive branch


def test_info_lists_metadata_keys_for_score_metadata(capsys):
    assert main(["info", "--json", str(FIXTURES / "canonical.jsonl")]) == 0
    keys = json.loads(capsys.readouterr().out)["metadata_keys"]
    assert keys["model"] == 2 and keys["condition"] == 2 and keys["source_format"] == 2
    assert main(["info", str(FIXTURES / "canonical.jsonl")]) == 0
    assert "--metadata KEY): " in capsys.readouterr().out


def test_an_unfinished_partial_folder_is_not_read_as_logs(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIXTURES / "sharegpt.json", logs / "good.json")
    hidden = logs / ".partial-0123456789ab"  # what a writer killed half-way leaves beside its target
    hidden.mkdir()
    shutil.copy(FIXTURES / "sharegpt.json", hidden / "copy.json")
    assert len(load_all(logs)) == len(load_all(logs / "good.json"))  # the unfinished copy is not a log
    out = logs / "all.jsonl"  # converting a folder into itself
    assert main(["convert", str(logs), "-o", str(out), "--format", "sharegpt"]) == 0
    assert len(load_all(out)) == len(load_all(logs / "good.json"))


def test_an_output_that_is_an_input_is_refused(tmp_path, capsys):
    log = tmp_path / "run.jsonl"
    assert main(["convert", str(FIXTURES / "sharegpt.json"), "-o", str(log), "--format", "sharegpt"]) == 0
    before = log.read_bytes()
    alias = tmp_path / "alias.jsonl"
    alias.symlink_to(log)
    assert main(["convert", str(log), "-o", str(log)]) != 0
    assert "is the input" in capsys.readouterr().err
    assert main(["score", str(log), "-o", str(alias)]) != 0  # through a link too
    assert "is the input" in capsys.readouterr().err
    assert log.read_bytes() == before  # the log is not replaced by a table


def test_an_output_that_is_a_folder_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "out.jsonl").mkdir()
    for command in ("convert", "score"):
        assert main([command, str(FIXTURES / "sharegpt.json"), "-o", str(tmp_path / "out.jsonl")]) == 1
        assert "it is a folder; name a file" in capsys.readouterr().err
