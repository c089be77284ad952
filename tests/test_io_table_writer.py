"""The table writer (CSV/TSV/Parquet prompt/response tables) streams and writes what a data frame would."""

from __future__ import annotations

import gzip
import json
import math
import tracemalloc
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import welfare.io as wio
import welfare.io.table as table
from welfare import Message, Transcript
from welfare.io import load_all


def exchange(i: int, *, system: str | None = None, **metadata: object) -> Transcript:
    messages = [Message(role="system", content=system)] if system is not None else []
    messages += [Message(role="user", content=f"please help with item {i} " * 10),
                 Message(role="assistant", content=f"here is how to do item {i} " * 30)]
    return Transcript(id=f"c{i}", messages=messages, metadata=dict(metadata))


def generated(n: int) -> Iterator[Transcript]:
    """Built lazily, as a reader yields them, so only the writer can hold them all."""
    return (exchange(i, condition="ab"[i % 2], k=i) for i in range(n))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_peak_memory_is_flat_in_the_number_of_conversations(name, tmp_path, monkeypatch):
    monkeypatch.setattr(table, "ROW_GROUP_ROWS", 64)  # Parquet holds one row group of rows

    def peak(n: int) -> int:
        tracemalloc.start()
        assert wio.write(generated(n), tmp_path / f"{n}-{name}", format="table") == n
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(100)  # first use: imports and caches
    # the writer that built the whole table in memory traced about 10x for 10x the conversations
    assert peak(3000) < 3 * peak(300)


def awkward() -> list[Transcript]:
    """Text that needs quoting, a system prompt in some rows only, keys that appear late, missing values."""
    convs = []
    for i in range(12):
        meta: dict[str, object] = {"condition": "a,b" if i % 2 else 'say "hi"\nthere', "flag": i % 3 == 0,
                                   "score": i / 7, "nested": {"k": i}, "blank": ""}
        if i == 4:
            meta["score"] = math.nan
        if i >= 9:
            meta["late"] = f"l{i}"
        convs.append(exchange(i, system="Be brief, \"kind\"." if i % 4 == 0 else None, **meta))
    return convs


def frame_of(convs: list[Transcript]) -> pd.DataFrame:
    """The same table built independently, as one data frame (how the writer worked before it streamed)."""
    rows = []
    for t in convs:
        msgs = list(t.messages)
        system = msgs.pop(0).text if msgs[0].role == "system" else None
        row: dict[str, object] = {"id": t.id, "system": system, "prompt": msgs[0].text, "response": msgs[1].text}
        row.update({k: v if isinstance(v, str | int | float | bool) else str(v) for k, v in t.metadata.items()})
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("name", "sep"), [("t.csv", ","), ("t.tsv", "\t"), ("t.csv.gz", ",")])
def test_text_tables_are_byte_identical_to_a_data_frame_written_whole(name, sep, tmp_path):
    convs = awkward()
    out = tmp_path / name
    assert wio.write(convs, out, format="table") == len(convs)
    written = gzip.decompress(out.read_bytes()) if name.endswith(".gz") else out.read_bytes()
    assert written == frame_of(convs).to_csv(index=False, sep=sep).encode("utf-8")
    back = load_all(out, format="table", system="system")
    assert [t.metadata["late"] for t in back] == [""] * 9 + ["l9", "l10", "l11"]  # padded, not shifted
    assert [[(m.role, m.text) for m in t.messages] for t in back] == [[(m.role, m.text) for m in t.messages]
                                                                      for t in convs]


def test_parquet_has_the_schema_and_rows_of_a_data_frame_written_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "ROW_GROUP_ROWS", 5)  # several row groups; "late" first appears in the last one
    convs = awkward()
    out = tmp_path / "t.parquet"
    assert wio.write(convs, out, format="table") == len(convs)
    written = pq.read_table(out)
    expected = pa.Table.from_pandas(frame_of(convs), preserve_index=False)
    assert written.schema.remove_metadata().equals(expected.schema.remove_metadata())
    assert written.to_pylist() == expected.to_pylist()
    assert pq.ParquetFile(out).metadata.num_row_groups == 3
    back = load_all(out, format="table", system="system")
    assert [t.metadata.get("late") for t in back] == [None] * 9 + ["l9", "l10", "l11"]
    assert [t.messages[0].role for t in back] == ["system" if i % 4 == 0 else "user" for i in range(12)]


def test_without_system_prompts_there_is_no_system_column(tmp_path):
    convs = [exchange(i) for i in range(3)]
    wio.write(convs, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "id,prompt,response"
    wio.write(convs, tmp_path / "t.parquet", format="table")
    assert pq.read_table(tmp_path / "t.parquet").column_names == ["id", "prompt", "response"]


def test_whole_numbers_stay_whole_when_a_row_lacks_them(tmp_path):
    # a data frame turned such a column into floats: 1.0 in CSV, double in Parquet
    convs = [exchange(0), exchange(1, n=1), exchange(2, n=2)]
    wio.write(convs, tmp_path / "t.csv")
    assert [t.metadata.get("n") for t in load_all(tmp_path / "t.csv")] == ["", "1", "2"]  # CSV reads text
    wio.write(convs, tmp_path / "t.parquet", format="table")
    assert str(pq.read_table(tmp_path / "t.parquet").schema.field("n").type) == "int64"
    assert [t.metadata.get("n") for t in load_all(tmp_path / "t.parquet", format="table")] == [None, 1, 2]


def test_parquet_refuses_a_column_of_mixed_types_and_leaves_no_file(tmp_path):
    convs = [exchange(0, batch="b1"), exchange(1, batch=2)]
    with pytest.raises(ValueError, match=r"column 'batch' holds values of more than one type \(integer, text\)"):
        wio.write(convs, tmp_path / "t.parquet", format="table")
    assert not (tmp_path / "t.parquet").exists()
    wio.write(convs, tmp_path / "t.csv")  # text has no column types
    assert [t.metadata["batch"] for t in load_all(tmp_path / "t.csv")] == ["b1", "2"]


def test_parquet_names_a_number_it_cannot_hold_and_removes_the_partial_file(tmp_path):
    with pytest.raises(ValueError, match=r"cannot write .*t\.parquet as Parquet"):
        wio.write([exchange(0, big=2**70)], tmp_path / "t.parquet", format="table")
    assert not (tmp_path / "t.parquet").exists()


def test_a_multi_turn_conversation_is_refused_before_anything_is_written(tmp_path):
    long = Transcript(id="long", messages=[Message(role="user", content="a"), Message(role="assistant", content="b"),
                                           Message(role="user", content="c"), Message(role="assistant", content="d")])
    with pytest.raises(ValueError, match="'long' is not one prompt and one response"):
        wio.write([exchange(0), long], tmp_path / "t.csv")
    assert not (tmp_path / "t.csv").exists()


def test_no_conversations_give_a_header_only_table(tmp_path):
    assert wio.write([], tmp_path / "t.csv") == 0
    assert (tmp_path / "t.csv").read_text() == "id,prompt,response\n"
    assert load_all(tmp_path / "t.csv", format="table") == []


def test_compression_other_than_gzip_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"compresses only with gzip.*\.csv\.gz"):
        wio.write([exchange(0)], tmp_path / "t.csv.bz2", format="table")


def with_bad_text_last(n: int) -> list[Transcript]:
    """``n`` exchanges; the last prompt holds a lone surrogate, as json gives for an unpaired ``\\ud800`` escape."""
    bad = json.loads('"help \\ud800 me"')
    convs = [exchange(i) for i in range(n - 1)]
    convs.append(Transcript(id=f"c{n - 1}", messages=[Message(role="user", content=bad),
                                                      Message(role="assistant", content="ok")]))
    return convs


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz", "t.parquet"])
def test_text_that_cannot_be_encoded_is_named_and_nothing_is_written(name, tmp_path, monkeypatch):
    monkeypatch.setattr(table, "ROW_GROUP_ROWS", 2)  # Parquet row groups are complete before the bad row
    with pytest.raises(ValueError, match=r"conversation 'c5': the 'prompt' text holds '\\ud800' at character 5"):
        wio.write(with_bad_text_last(6), tmp_path / name, format="table")
    assert list(tmp_path.iterdir()) == []  # no table, no temporary file


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.parquet"])
def test_a_failed_write_keeps_the_file_that_was_there(name, tmp_path, monkeypatch):
    monkeypatch.setattr(table, "ROW_GROUP_ROWS", 2)
    out = tmp_path / name
    assert wio.write([exchange(i) for i in range(3)], out, format="table") == 3
    before = out.read_bytes()
    with pytest.raises(ValueError):
        wio.write(with_bad_text_last(6), out, format="table")
    assert out.read_bytes() == before
    assert [t.id for t in load_all(out, format="table")] == ["c0", "c1", "c2"]
    assert list(tmp_path.iterdir()) == [out]


def test_parquet_failing_after_whole_row_groups_leaves_no_file(tmp_path, monkeypatch):
    """The number too big for int64 is in the third row group: two are on disk when it fails."""
    monkeypatch.setattr(table, "ROW_GROUP_ROWS", 2)
    convs = [exchange(i, n=i) for i in range(5)] + [exchange(5, n=2**70)]
    with pytest.raises(ValueError, match=r"cannot write .*[/\\]t\.parquet as Parquet"):
        wio.write(convs, tmp_path / "t.parquet", format="table")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_text_table_leaves_no_partial_file(tmp_path, monkeypatch):
    """An exception while rows are going out (here an interrupt at the sixth row, as a full disk would be)."""
    real_cell = table._csv_cell

    def cell(value: object) -> str:
        if value == "c5":
            raise KeyboardInterrupt
        return real_cell(value)

    monkeypatch.setattr(table, "_csv_cell", cell)
    out = tmp_path / "t.csv"
    out.write_text("id,prompt,response\nold,p,r\n")
    with pytest.raises(KeyboardInterrupt):
        wio.write([exchange(i) for i in range(6)], out, format="table")
    assert out.read_text() == "id,prompt,response\nold,p,r\n"
    assert list(tmp_path.iterdir()) == [out]
    monkeypatch.setattr(table, "_csv_cell", real_cell)
    assert wio.write([exchange(i) for i in range(6)], out, format="table") == 6  # a whole write replaces it
    assert [t.id for t in load_all(out, format="table")] == [f"c{i}" for i in range(6)]
