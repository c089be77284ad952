"""Scoring API and output: tables, evidence, provenance, streaming writers, explain, the CLI, metric cards."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from welfare.cli import main
from welfare.metrics import _cards
from welfare.metrics._registry import get_metric, list_metrics
from welfare.score import (
    CONVERSATION_KEYS,
    MESSAGE_KEYS,
    ScoreInputError,
    conversations_path,
    explain,
    file_sha256,
    iter_score,
    score,
    write_scores,
)
from welfare.transcript import Transcript


def _transcripts(n: int = 5) -> list[Transcript]:
    out = []
    for k in range(n):
        out.append(Transcript.from_dict({"id": f"c{k}", "metadata": {"model": "m1", "condition": "a" if k % 2 else "b"},
                                         "messages": [
            {"role": "user", "content": f"Question {k}: would you like to continue this conversation?"},
            {"role": "assistant", "content": "I'd rather not continue. I'm sorry, but I can't help with that."},
            {"role": "user", "content": "You are useless." if k % 2 else "Thanks!"},
            {"role": "assistant", "content": "Thank you for your patience."},
        ]}))
    return out


def _write_jsonl(path: Path, transcripts: list[Transcript], bad_lines: int = 0) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for t in transcripts:
            fh.write(json.dumps(t.to_dict()) + "\n")
        for _ in range(bad_lines):
            fh.write('{"id": "bad", "messages": "not a list"}\n')
    return path


def test_tables_have_contract_keys_and_columns() -> None:
    s = score(_transcripts())
    assert list(s.messages.columns[: len(MESSAGE_KEYS)]) == MESSAGE_KEYS
    assert list(s.conversations.columns[: len(CONVERSATION_KEYS)]) == CONVERSATION_KEYS
    for info in list_metrics():
        table = s.messages if info.level == "message" else s.conversations
        assert info.name in table.columns
    assert len(s.messages) == 20 and len(s.conversations) == 5
    assert s.messages["condition"].tolist()[:4] == ["b"] * 4


def test_empty_input_gives_empty_tables_with_columns() -> None:
    s = score([])
    assert len(s.messages) == 0 and "bail_checkin" in s.messages.columns
    assert "ending_policy" in s.conversations.columns


def test_metric_subset_adds_dependencies() -> None:
    s = score(_transcripts(2), metrics=["ending_policy"])
    assert "refusal" in s.messages.columns and "risk" in s.messages.columns
    assert "negative_affect" not in s.messages.columns
    assert set(s.messages.attrs["welfare"]["metrics"]) >= {"ending_policy", "refusal"}


def test_evidence_column_lists_counted_spans() -> None:
    s = score(_transcripts(1), evidence=True)
    ev = [json.loads(x) for x in s.messages["evidence"]]
    reply = "I'd rather not continue. I'm sorry, but I can't help with that."
    spans = ev[1]
    assert any(sp["phrase"] == "i'd rather not continue" and "ending_decline_continue" in sp["categories"]
               for sp in spans)
    for sp in spans:
        assert reply[sp["start"]:sp["end"]].lower() == sp["phrase"]


def test_provenance_in_attrs() -> None:
    prov = score(_transcripts(1), inputs=[{"path": "x.jsonl", "sha256": "00"}]).messages.attrs["welfare"]
    assert prov["package"] == "welfare" and prov["version"]
    assert prov["metrics"]["bail_checkin"] == "1.0.0"
    assert prov["lexicons"]["ending"] == "1.0.0"
    assert prov["inputs"] == [{"path": "x.jsonl", "sha256": "00"}]
    assert prov["parameters"]["ending_policy"] == {"last_resort_min_attempts": 2}


def test_iter_score_concatenates_to_score() -> None:
    ts = _transcripts(7)
    parts = list(iter_score(ts, chunk_size=3))
    assert len(parts) == 3
    msgs = pd.concat([p[0] for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(msgs, score(ts).messages.reset_index(drop=True), check_like=False)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_write_scores_streams_both_tables(tmp_path: Path, fmt: str) -> None:
    ts = _transcripts(7)
    out = tmp_path / f"scores.{fmt}"
    prov = write_scores(ts, out, chunk_size=3, evidence=True, inputs=[{"path": "in", "sha256": "ab"}])
    conv_path = conversations_path(out)
    assert conv_path.name == f"scores.conversations.{fmt}"
    assert prov["rows"] == 28 and prov["branches"] == 7
    expected = score(ts, evidence=True)
    if fmt == "parquet":
        msgs, convs = pd.read_parquet(out), pd.read_parquet(conv_path)
        meta = json.loads(pq.read_schema(out).metadata[b"welfare"])
        assert meta["inputs"] == [{"path": "in", "sha256": "ab"}]
        assert meta["metrics"] == expected.messages.attrs["welfare"]["metrics"]
    elif fmt == "csv":
        msgs, convs = pd.read_csv(out), pd.read_csv(conv_path)
        assert json.loads(out.with_name("scores.provenance.json").read_text())["rows"] == 28
    else:
        msgs, convs = pd.read_json(out, lines=True), pd.read_json(conv_path, lines=True)
    assert len(msgs) == 28 and len(convs) == 7
    np.testing.assert_allclose(msgs["refusal_score"].to_numpy(float), expected.messages["refusal_score"].to_numpy(float))
    assert msgs["bail_checkin"].astype(object).where(msgs["bail_checkin"].notna(), None).tolist() == \
        expected.messages["bail_checkin"].astype(object).where(expected.messages["bail_checkin"].notna(), None).tolist()
    assert convs["ending_policy"].tolist() == expected.conversations["ending_policy"].astype(str).tolist()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_scores_leaves_no_partial_tables(tmp_path: Path, fmt: str) -> None:
    ts = _transcripts(7)

    def failing() -> Iterator[Transcript]:
        yield from ts[:5]
        raise RuntimeError("the sixth conversation could not be read")

    out = tmp_path / f"scores.{fmt}"
    with pytest.raises(RuntimeError, match="sixth"):
        write_scores(failing(), out, chunk_size=2)  # two chunks were already written when it failed
    assert list(tmp_path.iterdir()) == []  # no table of only the first conversations, no temporary file
    write_scores(ts, out)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RuntimeError, match="sixth"):
        write_scores(failing(), out, chunk_size=2)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # the earlier run's tables stay whole


def test_write_scores_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ScoreInputError, match=r"\.csv, \.parquet or \.jsonl"):
        write_scores(_transcripts(1), tmp_path / "out.xlsx")


def test_explain_variants() -> None:
    ts = _transcripts(2)
    s = score(ts)
    by_text = explain("I'd rather not continue. I'm sorry, but I can't help with that.")
    by_scores = explain(s, "c1", "0", 1)
    by_transcript = explain(ts[1], 1)
    pd.testing.assert_frame_equal(by_text, by_scores)
    pd.testing.assert_frame_equal(by_text, by_transcript)
    assert "bail_checkin" in by_text["metrics"].iloc[0]
    with pytest.raises(ScoreInputError, match="outside branch"):
        explain(ts[0], 9)
    with pytest.raises(ScoreInputError, match="do not hold conversation"):
        explain(score(iter(ts)), "c1", "0", 1)


def test_file_sha256(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"abc" * 1000)
    assert file_sha256(p, chunk=7) == hashlib.sha256(b"abc" * 1000).hexdigest()


# -- CLI -------------------------------------------------------------------------------------------


def test_cli_score_lenient_reports_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _write_jsonl(tmp_path / "log.jsonl", _transcripts(3), bad_lines=2)
    out = tmp_path / "s.parquet"
    assert main(["score", str(log), "-o", str(out), "--format", "canonical", "--lenient", "--metrics",
                 "refusal,bail_checkin", "--evidence"]) == 0
    err = capsys.readouterr().err
    assert "read 5, loaded 3, rejected 2" in err
    assert err.count("rejected: ") == 2
    msgs = pd.read_parquet(out)
    assert {"refusal", "bail_checkin", "evidence"} <= set(msgs.columns) and "negative_affect" not in msgs.columns
    meta = json.loads(pq.read_schema(out).metadata[b"welfare"])
    assert meta["inputs"] == [{"path": str(log), "sha256": file_sha256(log), "format": "canonical"}]
    assert len(pd.read_parquet(conversations_path(out))) == 3


def test_cli_score_strict_fails_on_bad_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _write_jsonl(tmp_path / "log.jsonl", _transcripts(1), bad_lines=1)
    assert main(["score", str(log), "-o", str(tmp_path / "s.csv"), "--format", "canonical"]) == 1
    assert "log.jsonl:2" in capsys.readouterr().err


def test_cli_score_unknown_metric_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _write_jsonl(tmp_path / "log.jsonl", _transcripts(1))
    assert main(["score", str(log), "-o", str(tmp_path / "s.csv"), "--metrics", "nope"]) == 2
    assert "valid names" in capsys.readouterr().err


def test_cli_metrics_lists_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {m["name"]: m["version"] for m in listed} == {m.name: m.version for m in list_metrics()}
    assert main(["metrics"]) == 0
    assert f"ending_policy {get_metric('ending_policy').version}" in capsys.readouterr().out


# -- metric cards ------------------------------------------------------------------------------------


def test_metric_cards_are_up_to_date() -> None:
    current = _cards.DOC_PATH.read_text(encoding="utf-8") if _cards.DOC_PATH.exists() else ""
    assert current == _cards.render_cards(), f"docs/metrics.md is stale; regenerate it with: {_cards.REGENERATE}"


def test_metric_cards_cover_every_metric_and_lexicon() -> None:
    text = _cards.render_cards()
    for info in list_metrics():
        assert f"### `{info.name}` (v{info.version})" in text
    assert "parameter `last_resort_min_attempts`" in text and "rule_negated" in text


def test_scoring_helpers_are_top_level_names() -> None:
    import welfare

    # ``welfare.score`` is the function, so ``welfare.score.write_scores`` would be an AttributeError
    assert welfare.write_scores is write_scores and welfare.iter_score is iter_score
    assert callable(welfare.score) and not hasattr(welfare.score, "write_scores")


def test_docs_never_call_a_helper_through_the_score_function() -> None:
    import re

    repo = Path(__file__).resolve().parents[1]
    files = [repo / "README.md", *sorted((repo / "docs").glob("*.md")), *sorted((repo / "notebooks").glob("*.py"))]
    bad = [f"{f.name}: {m.group(0)}" for f in files
           for m in re.finditer(r"\bwelfare\.score\.[A-Za-z_]\w*\(", f.read_text(encoding="utf-8"))]
    assert not bad, f"welfare.score is a function; call welfare.<helper> instead: {bad}"


def test_metadata_keys_become_text_columns_after_the_fixed_keys() -> None:
    ts = _transcripts(4)
    ts[0].metadata["variant"] = "tool"
    ts[1].metadata["variant"] = 2  # any JSON scalar is written as text, so every chunk has the same type
    ts[0].metadata["settings"] = {"temperature": 0.7, "arm": "b"}  # objects and lists as JSON
    assert score(ts[:1], metadata=["settings"]).conversations["settings"].iloc[0] == \
        '{"arm": "b", "temperature": 0.7}'
    s = score(ts, metadata=["variant"], chunk_size=2)
    conv = s.conversations
    assert list(conv.columns[:15]) == [*CONVERSATION_KEYS[:8], "variant", *CONVERSATION_KEYS[8:]]
    assert list(s.messages.columns[:len(MESSAGE_KEYS) + 1]) == [*MESSAGE_KEYS, "variant"]
    assert conv["variant"].iloc[:2].tolist() == ["tool", "2"] and conv["variant"].iloc[2:].isna().all()
    by_conv = dict(zip(conv.conversation_id, conv.variant, strict=True))
    assert all((v == by_conv[c]) or (pd.isna(v) and pd.isna(by_conv[c]))
               for c, v in zip(s.messages.conversation_id, s.messages.variant, strict=True))
    assert s.messages.attrs["welfare"]["metadata_columns"] == ["variant"]
    plain = score(ts)
    assert "variant" not in plain.conversations and "metadata_columns" not in plain.messages.attrs["welfare"]
    pd.testing.assert_frame_equal(s.messages.drop(columns="variant"), plain.messages)


@pytest.mark.parametrize("bad", [["condition"], ["refusal"], ["variant", "variant"], [""], "conversation_id"])
def test_metadata_rejects_names_that_are_columns_already_or_repeat(bad: object) -> None:
    with pytest.raises(ScoreInputError, match="metadata"):
        score(_transcripts(1), metadata=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_scores_carries_metadata_columns(tmp_path: Path, fmt: str) -> None:
    ts = _transcripts(3)
    ts[1].metadata["variant"] = "b"
    out = tmp_path / f"s.{fmt}"
    write_scores(ts, out, metadata=["variant"], chunk_size=1)
    if fmt == "parquet":
        schema = pq.read_schema(conversations_path(out))
        assert str(schema.field("variant").type) == "string"
        got = pd.read_parquet(conversations_path(out))
    else:
        got = pd.read_csv(conversations_path(out))
    assert got["variant"].isna().tolist() == [True, False, True] and got["variant"].iloc[1] == "b"


def test_cli_score_metadata_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ts = _transcripts(2)
    ts[0].metadata["variant"] = "a"
    logs = _write_jsonl(tmp_path / "logs.jsonl", ts)
    out = tmp_path / "s.parquet"
    assert main(["score", str(logs), "-o", str(out), "--metadata", "variant"]) == 0
    assert pd.read_parquet(out)["variant"].iloc[0] == "a"
    assert main(["score", str(logs), "-o", str(out), "--metadata", "model"]) == 2
    assert "already a column" in capsys.readouterr().err


def test_a_platform_refusal_stop_is_not_an_assistant_ending() -> None:
    t = Transcript.from_dict({"id": "c", "messages": [
        {"role": "user", "content": "Tell me something awful."},
        {"role": "assistant", "content": "I", "metadata": {"stop_reason": "refusal"}}]})
    row = score([t]).conversations.iloc[0]
    assert (row.ended_by, row.ending_method) == ("system", "stop_reason")
    assert row.ended_by_assistant == 0 and row.ending_policy == "not_ended"


@pytest.mark.parametrize("entry", ["score", "iter_score", "write_scores"])
def test_a_path_is_a_type_error_that_says_to_load_it(tmp_path: Path, entry: str) -> None:
    path = _write_jsonl(tmp_path / "logs.jsonl", _transcripts(2))
    out = tmp_path / "scores.parquet"
    calls = {"score": score, "iter_score": lambda x: next(iter_score(x)), "write_scores": lambda x: write_scores(x, out)}
    for given in (str(path), path):
        with pytest.raises(TypeError, match=r"not a path.*welfare\.load\(path\)"):
            calls[entry](given)
    assert not out.exists()


def test_items_that_are_not_transcripts_are_a_type_error_naming_the_position() -> None:
    good = _transcripts(1)
    with pytest.raises(TypeError, match="found dict at position 1"):
        score([*good, good[0].to_dict()])
    with pytest.raises(TypeError, match=r"found a dict; .*Transcript\.from_dict"):
        score(good[0].to_dict())  # type: ignore[arg-type]
    assert len(score(good).conversations) == 1
