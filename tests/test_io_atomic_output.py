"""atomic_output: a file is written whole or not at all, beside its target, and replaces it in one rename."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from welfare.io._common import atomic_output


def test_the_partial_file_has_the_targets_name_in_a_hidden_folder_beside_it(tmp_path):
    out = tmp_path / "t.csv.gz"
    with atomic_output(out) as partial:
        hidden = os.path.dirname(partial)
        assert os.path.dirname(hidden) == str(tmp_path) and os.path.basename(hidden).startswith(".partial-")
        assert os.path.basename(partial) == "t.csv.gz"  # a writer's error names the user's file
        with open(partial, "w") as fh:
            fh.write("new")
        assert not out.exists()  # nothing at the target until the block ends
    assert out.read_text() == "new"
    assert os.listdir(tmp_path) == ["t.csv.gz"]


def test_an_exception_removes_the_partial_file_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("old")
    with pytest.raises(RuntimeError, match="half way"), atomic_output(out) as partial:
        with open(partial, "w") as fh:
            fh.write("half")
        raise RuntimeError("half way")
    assert out.read_text() == "old"
    assert os.listdir(tmp_path) == ["t.csv"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_replaced_file_keeps_its_permissions(tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("old")
    out.chmod(0o640)
    with atomic_output(out) as partial, open(partial, "w") as fh:
        fh.write("new")
    assert (out.read_text(), stat.S_IMODE(out.stat().st_mode)) == ("new", 0o640)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
def test_a_symbolic_link_is_written_through(tmp_path):
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "t.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with atomic_output(link) as partial, open(partial, "w") as fh:
        fh.write("new")
    assert link.is_symlink() and real.read_text() == "new"
    assert os.listdir(tmp_path / "data") == ["t.csv"]


def test_a_missing_folder_or_a_folder_as_target_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no folder .*missing; create it first"), \
            atomic_output(tmp_path / "missing" / "t.csv"):
        pass
    with pytest.raises(IsADirectoryError, match="it is a folder; name a file"), atomic_output(tmp_path):
        pass


class _LateFailure(Exception):
    pass


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz", "run.parquet", "run.eval", "export.conversations.json",
                                  "rows.csv"])
def test_every_writer_behind_welfare_io_write_leaves_no_shorter_file(tmp_path, name):
    import welfare
    import welfare.io

    first = welfare.Transcript.from_dict({"id": "c1", "messages": [{"role": "user", "content": "hi"},
                                                                    {"role": "assistant", "content": "hello"}]})

    def stream():
        yield first
        raise _LateFailure("the second record could not be read")

    out = tmp_path / name
    with pytest.raises(_LateFailure):
        welfare.io.write(stream(), out)
    assert os.listdir(tmp_path) == []  # neither a shorter file nor a leftover partial one
    assert welfare.io.write([first], out) >= 1  # records written: a conversation, or its rows in a table
    before = out.read_bytes()
    with pytest.raises(_LateFailure):
        welfare.io.write(stream(), out)
    assert out.read_bytes() == before and os.listdir(tmp_path) == [name]  # the earlier file is kept whole


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes are a POSIX feature")
def test_a_stream_is_written_directly(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    with atomic_output(fifo) as path:
        assert path == str(fifo)  # no temporary file to rename onto a pipe
        with open(path, "w") as fh:
            fh.write("streamed")
    reader.join(timeout=10)
    assert got == ["streamed"] and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]
