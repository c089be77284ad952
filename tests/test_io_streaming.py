"""Loading streams: peak memory does not grow with the number of conversations in a file."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

import welfare.io as wio
from welfare import Transcript
from welfare.io import load, load_all


def conversations(n: int) -> list[Transcript]:
    return [Transcript.from_dict({"id": f"c{i}", "metadata": {"condition": "a"}, "messages": [
        {"id": f"u{i}", "role": "user", "content": "please help " * 20},
        {"id": f"a{i}", "parent": f"u{i}", "role": "assistant", "content": "sure, here is how " * 40},
        {"id": f"b{i}", "parent": f"u{i}", "role": "assistant", "content": "I would rather not " * 40},
    ]}) for i in range(n)]


def peak_while_loading(path: Path, fmt: str) -> int:
    tracemalloc.start()
    count = sum(1 for _ in load(path, format=fmt))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count > 0
    return peak


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "name"), [("chatgpt", "conversations.json"), ("canonical", "c.jsonl"),
                                           ("inspect", "log.json"), ("inspect", "log.eval")])
def test_peak_memory_is_flat_in_the_number_of_conversations(fmt, name, tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    wio.write(conversations(40), small / name, format=fmt)
    wio.write(conversations(400), large / name, format=fmt)
    # 10x the conversations may not cost 3x the memory (a whole-file parse would cost about 10x).
    # A .eval archive also keeps its zip index in memory: a few hundred bytes per sample, not its messages.
    index = 1000 * 400 if name.endswith(".eval") else 0
    assert peak_while_loading(large / name, fmt) < 3 * peak_while_loading(small / name, fmt) + index


def test_eval_archive_without_header_uses_the_journal(tmp_path):
    path = tmp_path / "running.eval"
    sample = {"id": "s1", "epoch": 1, "messages": [{"role": "user", "content": "hi"},
                                                   {"role": "assistant", "content": "hello"}]}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_journal/start.json", json.dumps({"version": 2, "eval": {"task": "t", "model": "m/x"}}))
        archive.writestr("samples/s1_epoch_1.json", json.dumps(sample))
    (t,) = load_all(path)
    assert (t.id, t.metadata["task"], t.metadata["model"]) == ("running/s1_epoch_1", "t", "m/x")  # no eval_id: the file stem


def test_wildchat_parquet_writer_joins_pieces_under_one_schema(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import welfare.io.wildchat as wc

    monkeypatch.setattr(wc, "SPILL_ROWS", 4)
    convs = conversations(10)
    for i, t in enumerate(convs):  # a key that is null in the first piece and text later, one that appears late
        t.metadata["note"] = None if i < 4 else f"n{i}"
        if i == 9:
            t.metadata["late"] = 1
    out = tmp_path / "w.parquet"
    n = wio.write(convs, out, format="wildchat")
    table = pq.read_table(out)
    assert n == table.num_rows == 20  # two branches each
    assert str(table.schema.field("note").type) == "string" and str(table.schema.field("late").type) == "int64"
    assert table.column("note").to_pylist()[:8] == [None] * 8 and table.column("note").to_pylist()[8] == "n4"
    back = {t.id: t for t in load_all(out, format="wildchat")}
    assert len(back) == 20 and sum(t.metadata.get("late") == 1 for t in back.values()) == 2


@pytest.mark.slow
def test_wildchat_parquet_writer_memory_is_flat(tmp_path, monkeypatch):
    import welfare.io.wildchat as wc

    monkeypatch.setattr(wc, "SPILL_ROWS", 64)

    def peak(n: int) -> int:
        items = (t for k in range(n // 40) for t in conversations(40))  # generated lazily, as a reader would
        tracemalloc.start()
        wio.write(items, tmp_path / f"w{n}.parquet", format="wildchat")
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(200)  # first use: imports and caches
    assert peak(2000) < 3 * peak(200)  # holding every row would cost about 10x (checked against the old writer)


def test_wildchat_parquet_writer_names_incompatible_types(tmp_path, monkeypatch):
    import welfare.io.wildchat as wc

    monkeypatch.setattr(wc, "SPILL_ROWS", 4)
    convs = conversations(4)
    for i, t in enumerate(convs):
        t.metadata["x"] = 1 if i < 2 else "one"  # a number in the first piece, text in the second
    with pytest.raises(ValueError, match="incompatible types"):
        wio.write(convs, tmp_path / "w.parquet", format="wildchat")


def test_wildchat_parquet_writer_takes_a_piece_of_only_empty_objects(tmp_path, monkeypatch):
    # a piece whose values of a key are all {} has no Parquet type of its own; the later pieces give it one
    import welfare.io.wildchat as wc

    monkeypatch.setattr(wc, "SPILL_ROWS", 2)
    convs = conversations(3)
    for i, t in enumerate(convs):
        t.metadata["tags"] = {} if i == 0 else {"lang": "en"}
    out = tmp_path / "w.parquet"
    assert wio.write(convs, out, format="wildchat") == 6
    tags = [t.metadata.get("tags") for t in load_all(out, format="wildchat")]
    assert tags[:2] == [{"lang": None}] * 2 and tags[2:] == [{"lang": "en"}] * 4
