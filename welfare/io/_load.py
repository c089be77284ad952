"""Format detection and the one loading loop shared by every format."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Iterator
from typing import Any

from welfare.io._base import (
    FORMATS,
    ConversationIds,
    LoadReport,
    RecordError,
    Rejected,
    UnknownFormatError,
    expand_paths,
    logical_name,
    read_head,
)
from welfare.transcript import Transcript

__all__ = ["detect_format", "known_formats", "load", "load_all"]


def known_formats() -> list[str]:
    """Names of every registered format, sorted."""
    return sorted(FORMATS)


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name of the format of ``path``, decided from its first bytes and its name.

    Raises :class:`UnknownFormatError` listing the formats it knows.
    """
    spath = os.fspath(path)
    head = read_head(spath)
    if head.startswith(b"PAR1"):
        head = _parquet_head(spath)
    name = logical_name(spath)
    for spec in sorted(FORMATS.values(), key=lambda s: -s.priority):
        if spec.sniff is not None and spec.sniff(head, name):
            return spec.name
    raise UnknownFormatError(
        "cannot tell the log format",
        path=spath,
        expected="one of: " + ", ".join(known_formats()),
        found=repr(head[:80].decode("utf-8", "replace")),
        hint="Pass format=... (CLI: --format NAME) to choose one",
    )


def _reader_options(fmt: str) -> list[str]:
    """Keyword options the reader of ``fmt`` accepts (e.g. ``prompt``/``response`` for ``table``)."""
    params = inspect.signature(FORMATS[fmt].read).parameters.values()
    return [p.name for p in params if p.kind == p.KEYWORD_ONLY]


def _parquet_head(path: str) -> bytes:
    """What sniffers see of a Parquet file: ``PAR1\\n`` and its column names, one a line.

    The schema sits at the end of a Parquet file, out of reach of a first-bytes sniff.
    """
    try:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    except (OSError, ValueError):
        return b"PAR1"
    return ("PAR1\n" + "\n".join(names)).encode("utf-8")


def load(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    format: str | None = None,
    strict: bool = True,
    report: LoadReport | None = None,
    **options: Any,
) -> Iterator[Transcript]:
    """Stream transcripts from files, directories or globs, in any known format.

    Parameters
    ----------
    paths
        A path, a directory (read recursively), a glob, or a list of these. Gzip is transparent.
    format
        A name from :func:`known_formats`; detected per file when ``None``.
    strict
        When True (default) the first bad record raises :class:`LogFormatError` naming file,
        line, field, what was expected and what was found. When False bad records are skipped
        and listed in ``report.rejected``. A conversation id read a second time (a record written
        twice, the same log twice, two runs' logs in one folder) is a bad record naming both places
        (file and record number, counted from 1 in each file); lenient loading keeps the first.
    report
        A :class:`LoadReport` to fill in; ``report.read == report.loaded + len(report.rejected)``.
    options
        Passed to the format's reader (e.g. ``prompt=``/``response=`` column names for ``table``);
        with detection, each reader gets only the options it takes. Lenient loading lists a file
        that no reader recognises as one rejected record and goes on.

    Examples
    --------
    >>> import welfare
    >>> rep = welfare.LoadReport()
    >>> convs = list(welfare.load("data/sample", strict=False, report=rep))  # doctest: +SKIP
    """
    if format is not None and format not in FORMATS:
        raise UnknownFormatError(f"unknown format {format!r}", expected="one of: " + ", ".join(known_formats()),
                                 found=repr(format))
    if format is not None:
        unknown = sorted(set(options) - set(_reader_options(format)))
        if unknown:
            raise ValueError(f"the {format} reader takes no option {unknown[0]!r}; its options: "
                             + (", ".join(_reader_options(format)) or "none"))
    rep = report if report is not None else LoadReport()
    seen = ConversationIds()  # ids only: memory grows with the number of conversations, not their size
    for path in expand_paths(paths):
        if format is None:
            try:
                fmt = detect_format(path)
            except UnknownFormatError as err:
                if strict:
                    raise
                # lenient: a file no reader recognises (e.g. users.json beside conversations.json in an
                # export folder) is listed as one rejected record and loading goes on
                rep.rejected.append(Rejected(path, None, f"{err.reason}; file skipped (pass format=... to read it)"))
                continue
        else:
            fmt = format
        rep.formats[path] = fmt
        spec = FORMATS[fmt]
        accepted = _reader_options(fmt)
        for record, item in enumerate(spec.read(path, **{k: v for k, v in options.items() if k in accepted}), 1):
            if not isinstance(item, RecordError):
                item = seen.check(item.id, path, record) or item
            if isinstance(item, RecordError):
                if strict:
                    raise item.to_exception(path)
                rep.rejected.append(Rejected(path, item.line, item.reason, item.field, item.record_id))
                continue
            item.metadata.setdefault("source_format", fmt)
            rep.loaded += 1
            yield item


def load_all(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], **kwargs: Any) -> list[Transcript]:
    """:func:`load` into a list (convenient in notebooks for small logs)."""
    return list(load(paths, **kwargs))

