"""Writing simulated conversations: canonical JSONL, gzip with a fixed header (byte-reproducible)."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable

from welfare.io import write_canonical
from welfare.transcript import Transcript

__all__ = ["write_jsonl"]


def write_jsonl(transcripts: Iterable[Transcript], path: str | os.PathLike[str]) -> int:
    """Write canonical JSONL to ``path``; gzip when the name ends in ``.gz``. Returns the count.

    The gzip header carries no file name and a zero modification time, so the same
    conversations give the same bytes on every run (with the same zlib).
    """
    spath = os.fspath(path)
    parent = os.path.dirname(spath)
    if parent:
        os.makedirs(parent, exist_ok=True)
    if not spath.endswith(".gz"):
        return write_canonical(transcripts, spath)
    with open(spath, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as text:
        return write_canonical(transcripts, text)
