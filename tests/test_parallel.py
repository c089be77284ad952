"""welfare.parallel: line-aligned splitting, unit reading, and tables identical for 1 and 2 processes."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import welfare
from welfare.parallel import (
    ParallelInputError,
    WorkUnit,
    iter_unit,
    plan_units,
    resolve_jobs,
    score_files,
    split_lines,
)
from welfare.score import conversations_path, file_sha256, write_scores
from welfare.simulate import default_config, simulate, write_jsonl


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 90 simulated conversations (trees with edits included) in canonical JSONL."""
    path = tmp_path_factory.mktemp("corpus") / "sim.jsonl"
    write_jsonl(simulate(default_config(n_conversations=40, seed=11)), path)
    return path


# --------------------------------------------------------------------------------------------------
# splitting


def _check_ranges(data: bytes, ranges: list[tuple[int, int]]) -> None:
    assert ranges[0][0] == 0
    assert ranges[-1][1] == len(data)
    for (_, b), (c, _) in itertools.pairwise(ranges):
        assert b == c, "ranges must be contiguous"
        assert data[c - 1 : c] == b"\n", "a range must start right after a newline"
    pieces = [data[a:b] for a, b in ranges]
    assert b"".join(pieces) == data
    lines = [line for piece in pieces for line in piece.split(b"\n")[: -1 if piece.endswith(b"\n") else None]]
    assert lines == data.split(b"\n")[: -1 if data.endswith(b"\n") else None]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=300), min_size=0, max_size=60),
    trailing_newline=st.booleans(),
    chunk_bytes=st.integers(min_value=1, max_value=700),
)
def test_split_never_splits_or_drops_a_line(tmp_path: Path, lengths: list[int], trailing_newline: bool,
                                            chunk_bytes: int) -> None:
    lines = [(b"x%d-" % k + b"y" * n)[:n] if n else b"" for k, n in enumerate(lengths)]
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = tmp_path / "lines.jsonl"
    path.write_bytes(data)
    ranges = split_lines(path, chunk_bytes)
    if not data:
        assert ranges == [(0, 0)]
        return
    _check_ranges(data, ranges)
    # every range but the last reaches its target size and stops at the first line end after it
    for a, b in ranges[:-1]:
        assert b - a >= chunk_bytes
        assert b"\n" not in data[a + chunk_bytes - 1 : b - 1]


def test_split_handles_lines_longer_than_the_search_block(tmp_path: Path) -> None:
    data = b"a" * 200_000 + b"\n" + b"b" * 10 + b"\n" + b"c" * 150_000  # no trailing newline
    path = tmp_path / "long.jsonl"
    path.write_bytes(data)
    ranges = split_lines(path, 1000)
    _check_ranges(data, ranges)
    # the first range ends after the long first line; the rest (its target falls in the last line) is one range
    assert ranges == [(0, 200_001), (200_001, len(data))]


def test_split_rejects_a_non_positive_chunk(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"{}\n")
    with pytest.raises(ParallelInputError, match="chunk_bytes"):
        split_lines(path, 0)


def test_units_read_every_conversation_once_in_order(corpus: Path) -> None:
    units = plan_units(corpus, chunk_bytes=20_000)
    assert len(units) > 3 and all(u.is_range for u in units)
    assert [u.index for u in units] == list(range(len(units)))
    read = [t.id for u in units for t in iter_unit(u)]
    assert read == [t.id for t in welfare.load(corpus)]


def test_gzip_and_other_formats_are_whole_file_units(tmp_path: Path, corpus: Path) -> None:
    gz = tmp_path / "sim.jsonl.gz"
    gz.write_bytes(gzip.compress(corpus.read_bytes()))
    units = plan_units([gz, corpus], chunk_bytes=50_000)
    assert units[0] == WorkUnit(str(gz), "canonical", 0, None, 0)
    assert all(u.is_range for u in units[1:])


# --------------------------------------------------------------------------------------------------
# scoring


def _tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(out), pd.read_parquet(conversations_path(out))


@pytest.mark.slow
def test_one_and_two_processes_write_identical_tables(tmp_path: Path, corpus: Path) -> None:
    one, two, ref = tmp_path / "one.parquet", tmp_path / "two.parquet", tmp_path / "ref.parquet"
    p1 = score_files(corpus, one, jobs=1, chunk_bytes=60_000, chunk_size=25)
    p2 = score_files(corpus, two, jobs=2, chunk_bytes=60_000, chunk_size=25)
    assert one.read_bytes() == two.read_bytes()
    assert conversations_path(one).read_bytes() == conversations_path(two).read_bytes()
    assert p1["rows"] == p2["rows"] > 0 and p1["branches"] == p2["branches"] > 0
    # the same rows, in the same order, as one in-memory pass over welfare.load
    write_scores(welfare.load(corpus), ref)
    for got, want in zip(_tables(two), _tables(ref), strict=True):
        pd.testing.assert_frame_equal(got, want)
    assert p2["rows"] == len(_tables(ref)[0]) and p2["branches"] == len(_tables(ref)[1])
    assert p2["inputs"] == [{"path": str(corpus), "format": "canonical",
                             "sha256": file_sha256(corpus)}]


@pytest.mark.slow
def test_csv_and_jsonl_outputs_match_one_pass(tmp_path: Path, corpus: Path) -> None:
    for suffix in ("csv", "jsonl"):
        par, ref = tmp_path / f"par.{suffix}", tmp_path / f"ref.{suffix}"
        score_files(corpus, par, jobs=2, chunk_bytes=60_000)
        write_scores(welfare.load(corpus), ref)
        assert par.read_bytes() == ref.read_bytes()
        assert conversations_path(par).read_bytes() == conversations_path(ref).read_bytes()
        prov = json.loads(par.with_name(par.stem + ".provenance.json").read_text())
        assert prov["rows"] > 0 and prov["outputs"]["messages"] == str(par)


def _with_bad_line(corpus: Path, tmp_path: Path) -> tuple[Path, int]:
    lines = corpus.read_bytes().split(b"\n")
    bad_at = len(lines) * 2 // 3  # 0-based: well past the first byte range
    lines[bad_at] = b'{"id": "broken", "messages": [{"role": "robot", "content": "hi"}]}'
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines))
    return path, bad_at + 1


def test_strict_error_names_the_absolute_line(tmp_path: Path, corpus: Path) -> None:
    path, line = _with_bad_line(corpus, tmp_path)
    with pytest.raises(welfare.LogFormatError) as expected:
        list(welfare.load(path))
    with pytest.raises(welfare.LogFormatError) as got:
        score_files(path, tmp_path / "out.parquet", jobs=2, chunk_bytes=30_000, metrics=["refusal"])
    assert got.value.line == expected.value.line == line
    assert str(got.value) == str(expected.value)
    # no table holding only the records before the bad line is left behind, nor a temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]
    (tmp_path / "out.csv").write_text("an earlier run's table\n")
    with pytest.raises(welfare.LogFormatError):
        score_files(path, tmp_path / "out.csv", jobs=1, chunk_bytes=30_000, metrics=["refusal"])
    assert (tmp_path / "out.csv").read_text() == "an earlier run's table\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "out.csv"]


def test_lenient_report_matches_load(tmp_path: Path, corpus: Path) -> None:
    path, line = _with_bad_line(corpus, tmp_path)
    want = welfare.LoadReport()
    n = len(list(welfare.load(path, strict=False, report=want)))
    got = welfare.LoadReport()
    prov = score_files(path, tmp_path / "out.parquet", jobs=1, chunk_bytes=30_000, strict=False, report=got,
                       metrics=["refusal"], hash_inputs=False)
    assert got.loaded == want.loaded == n
    assert [(r.line, r.reason, r.field) for r in got.rejected] == [(r.line, r.reason, r.field) for r in want.rejected]
    assert got.rejected[0].line == line
    assert prov["branches"] >= n
    assert "sha256" not in prov["inputs"][0]


def test_bad_requests_raise_value_errors(tmp_path: Path, corpus: Path) -> None:
    with pytest.raises(ParallelInputError, match="jobs"):
        resolve_jobs(-1)
    assert resolve_jobs(None) >= 1 and resolve_jobs(3) == 3
    with pytest.raises(ParallelInputError, match="output format"):
        score_files(corpus, tmp_path / "out.xlsx")
    with pytest.raises(ParallelInputError, match="unknown format"):
        plan_units(corpus, format="nope")
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(ParallelInputError, match="no input files"):
        score_files(empty, tmp_path / "out.parquet")
    with pytest.raises(ParallelInputError, match="only canonical JSONL"):
        plan_units("file://" + str(corpus), format="openai")


def test_fsspec_file_urls_are_split_like_paths(corpus: Path) -> None:
    url_units = plan_units("file://" + str(corpus), chunk_bytes=20_000)
    path_units = plan_units(corpus, chunk_bytes=20_000)
    assert [(u.start, u.end) for u in url_units] == [(u.start, u.end) for u in path_units]
    assert [t.id for u in url_units for t in iter_unit(u)] == [t.id for u in path_units for t in iter_unit(u)]


def test_cli_jobs_writes_the_tables_of_one_process(tmp_path: Path, corpus: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from welfare.cli import main

    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert main(["score", str(corpus), "-o", str(one), "--metrics", "refusal"]) == 0
    assert main(["score", str(corpus), "-o", str(two), "--metrics", "refusal", "--jobs", "2"]) == 0
    assert two.read_bytes() == one.read_bytes()
    assert conversations_path(two).read_bytes() == conversations_path(one).read_bytes()
    assert "message rows" in capsys.readouterr().err
    for jobs in ("1", "2"):  # Parquet too: --jobs 1 takes the same path, so the row groups are the same
        assert main(["score", str(corpus), "-o", str(tmp_path / f"p{jobs}.parquet"), "--metrics", "refusal",
                     "--jobs", jobs]) == 0
    assert (tmp_path / "p1.parquet").read_bytes() == (tmp_path / "p2.parquet").read_bytes()
    assert main(["score", str(corpus), "-o", str(two), "--metrics", "no_such_metric", "--jobs", "2"]) == 2
    assert "no_such_metric" in capsys.readouterr().err
    assert main(["score", str(corpus), "-o", str(two), "--jobs", "-3"]) == 2


def test_a_file_given_twice_keeps_its_line_numbers(tmp_path: Path, corpus: Path) -> None:
    path, line = _with_bad_line(corpus, tmp_path)
    got = welfare.LoadReport()
    score_files([path, path], tmp_path / "out.parquet", chunk_bytes=30_000, strict=False, report=got,
                metrics=["refusal"], hash_inputs=False)
    # the second reading repeats every conversation id: each is rejected, none scored twice
    repeated = [r for r in got.rejected if "was already read from this record, when this file was read before" in r.reason]
    assert [r.line for r in got.rejected if r not in repeated] == [line, line]
    assert len(repeated) == got.loaded


def test_metadata_columns_are_the_same_on_one_and_two_processes(tmp_path: Path, corpus: Path) -> None:
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    score_files(corpus, one, jobs=1, chunk_bytes=60_000, chunk_size=25, metadata=["persona"])
    score_files(corpus, two, jobs=2, chunk_bytes=60_000, chunk_size=25, metadata=["persona"])
    assert one.read_bytes() == two.read_bytes()
    conv = pd.read_parquet(conversations_path(two))
    want = {t.id: t.metadata["persona"] for t in welfare.load(corpus)}
    assert conv["persona"].notna().all()
    assert conv["persona"].tolist() == [want[c] for c in conv["conversation_id"]]
    with pytest.raises(ValueError, match="already a column"):
        score_files(corpus, tmp_path / "bad.parquet", metadata=["user_id"])
