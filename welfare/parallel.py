"""Scoring many or large logs on several processes, with the same tables as one process.

The work is cut into :class:`WorkUnit` values: a whole file, or a byte range of a canonical JSONL
file whose ends sit on line boundaries (:func:`split_lines`), so a one-million-conversation log is
shared among processes without any process reading all of it. Each unit is scored by
:func:`welfare.score.write_scores` into a small Parquet/CSV/JSONL part; the parent appends the parts
to the output in plan order, so row order, row groups and bytes do not depend on the number of
processes (the plan depends only on the files and ``chunk_bytes``). Memory stays flat: a process
holds one unit's bytes and one chunk of transcripts at a time.

The same unit function runs on Dask workers (:mod:`welfare.dask`).

>>> import welfare.parallel as wp
>>> wp.score_files(["logs/a.jsonl"], "scores.parquet", jobs=2)  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import glob
import io
import itertools
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from welfare.io import FORMATS, ConversationIds, LoadReport, RecordError, Rejected, detect_format, expand_paths
from welfare.io._base import UTF8_BOM, refuse_overwriting_inputs
from welfare.io._common import atomic_output
from welfare.io.canonical import parse_canonical_line
from welfare.transcript import Transcript

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "ParallelInputError",
    "ScoreSettings",
    "UnitResult",
    "WorkUnit",
    "auto_chunk_bytes",
    "iter_unit",
    "merge_units",
    "plan_units",
    "resolve_jobs",
    "score_files",
    "score_transcripts_unit",
    "score_unit",
    "split_lines",
]

#: Largest target size of one byte range of a JSONL file (a unit of work).
DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
#: Smallest automatic range size, and how many ranges a smaller file is cut into (for load balance).
MIN_AUTO_CHUNK_BYTES = 1024 * 1024
AUTO_RANGES_PER_FILE = 64
_SEARCH_BLOCK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class ParallelInputError(ValueError):
    """A parallel scoring request that cannot run (bad ``jobs``, unsplittable URL input, ...)."""


# --------------------------------------------------------------------------------------------------
# opening local paths and fsspec URLs


def is_url(path: str) -> bool:
    """True for an fsspec URL such as ``s3://bucket/logs.jsonl`` (``file://`` included)."""
    return "://" in path


def _open(path: str) -> IO[bytes]:
    if is_url(path):
        import fsspec

        return fsspec.open(path, "rb").open()  # type: ignore[no-any-return]
    return open(path, "rb")


def _size(path: str) -> int:
    if is_url(path):
        from fsspec.core import url_to_fs

        fs, inner = url_to_fs(path)
        return int(fs.size(inner))
    return os.path.getsize(path)


def _expand_urls(path: str) -> list[str]:
    from fsspec.core import url_to_fs

    fs, inner = url_to_fs(path)
    protocol = path.split("://", 1)[0]
    if glob.has_magic(inner):
        found = sorted(fs.glob(inner))
        if not found:
            raise FileNotFoundError(f"no file matches {path!r}")
        return [f"{protocol}://{p}" if "://" not in p else p for p in found]
    if not fs.exists(inner):
        raise FileNotFoundError(f"no such file: {path!r}")
    return [path]


# --------------------------------------------------------------------------------------------------
# the plan


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """One piece of work: ``path`` read as ``format``, whole (``end is None``) or bytes ``[start, end)``.

    A byte range always starts at the beginning of a line and ends just after a newline (or at
    the end of the file), so it holds whole JSONL records. ``index`` is the unit's place in the plan.
    """

    path: str
    format: str
    start: int = 0
    end: int | None = None
    index: int = 0

    @property
    def is_range(self) -> bool:
        return self.end is not None


def split_lines(path: str | os.PathLike[str], chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` covering the file, each about ``chunk_bytes`` long and made of whole lines.

    Every range but the first starts right after a ``\\n``; ranges never overlap and their union is the
    whole file, so no line is split or dropped (a last line without a trailing newline included).
    A line longer than ``chunk_bytes`` makes its range longer. An empty file gives ``[(0, 0)]``.

    Parameters
    ----------
    path
        A local path or an fsspec URL of an uncompressed file.
    chunk_bytes
        Target range size in bytes (at least 1).
    """
    if chunk_bytes < 1:
        raise ParallelInputError(f"chunk_bytes must be a positive number of bytes, found {chunk_bytes}")
    spath = os.fspath(path)
    size = _size(spath)
    bounds = [0]
    with _open(spath) as fh:
        target = chunk_bytes
        while target < size:
            # the first line start at or after ``target``: one past the first newline at or after target - 1
            fh.seek(target - 1)
            pos = target - 1
            cut = -1
            while cut < 0:
                block = fh.read(_SEARCH_BLOCK)
                if not block:
                    break
                k = block.find(b"\n")
                if k >= 0:
                    cut = pos + k + 1
                pos += len(block)
            if cut < 0 or cut >= size:
                break
            bounds.append(cut)
            target = cut + chunk_bytes
    bounds.append(size)
    return list(itertools.pairwise(bounds))


def _is_gzip(path: str) -> bool:
    with _open(path) as fh:
        return fh.read(2) == _GZIP_MAGIC


def auto_chunk_bytes(size: int) -> int:
    """Range size for a file of ``size`` bytes: ``size / 64`` within [1 MiB, 32 MiB].

    It depends on the file only (never on the number of processes), so the plan, and therefore the
    output bytes, are the same for every ``jobs``; 64 ranges keep two to eight processes busy to the end.
    """
    return int(min(DEFAULT_CHUNK_BYTES, max(MIN_AUTO_CHUNK_BYTES, size // AUTO_RANGES_PER_FILE)))


def plan_units(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, format: str | None = None,
               chunk_bytes: int | None = None) -> list[WorkUnit]:
    """The units of work for ``paths``, in the order one process reads them.

    Uncompressed canonical JSONL files are cut into line-aligned byte ranges of about
    ``chunk_bytes`` (:func:`split_lines`; by default :func:`auto_chunk_bytes` of each file's size);
    other formats and gzip files are one unit each.
    Local paths follow :func:`welfare.io.expand_paths` (files, directories, globs). fsspec URLs
    (``s3://...``, ``gs://...``, ``file://...``) must be uncompressed canonical JSONL.

    Raises ``FileNotFoundError`` for a path that names nothing, :class:`ParallelInputError` for a URL
    that is not canonical JSONL.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if format is not None and format not in FORMATS:
        raise ParallelInputError(f"unknown format {format!r}; expected one of: {', '.join(sorted(FORMATS))}")
    units: list[WorkUnit] = []
    for given in paths:
        spath = os.fspath(given)
        if is_url(spath):
            if format not in (None, "canonical"):
                raise ParallelInputError(f"{spath}: only canonical JSONL can be read from a URL, found format "
                                         f"{format!r}; copy the file locally or convert it with 'welfare convert'")
            for url in _expand_urls(spath):
                if _is_gzip(url):
                    raise ParallelInputError(f"{url}: gzip files cannot be read from a URL in parallel; store them "
                                             "uncompressed (object storage compresses in transit) or copy them locally")
                size = chunk_bytes or auto_chunk_bytes(_size(url))
                units.extend(WorkUnit(url, "canonical", a, b) for a, b in split_lines(url, size))
            continue
        for path in expand_paths(spath):
            fmt = format or detect_format(path)
            if fmt == "canonical" and not _is_gzip(path):
                size = chunk_bytes or auto_chunk_bytes(_size(path))
                units.extend(WorkUnit(path, fmt, a, b) for a, b in split_lines(path, size))
            else:
                units.append(WorkUnit(path, fmt))
    return [replace(u, index=k) for k, u in enumerate(units)]


# --------------------------------------------------------------------------------------------------
# reading one unit


def _range_lines(unit: WorkUnit) -> Iterator[tuple[int, bytes]]:
    """(line number counted from the unit's first line, raw line) for each non-blank line of a byte range."""
    end = unit.end if unit.end is not None else _size(unit.path)
    with _open(unit.path) as fh:
        fh.seek(unit.start)
        data = fh.read(end - unit.start)
    start = len(UTF8_BOM) if unit.start == 0 and data.startswith(UTF8_BOM) else 0  # a BOM is not part of line 1
    lineno = 0
    n = len(data)
    while start < n:
        stop = data.find(b"\n", start)
        if stop < 0:
            stop = n
        lineno += 1
        line = data[start:stop].rstrip(b"\r")
        if line.strip():
            yield lineno, line
        start = stop + 1


def iter_unit(unit: WorkUnit, **options: Any) -> Iterator[Transcript | RecordError]:
    """Transcripts and :class:`~welfare.io.RecordError` values of one unit, in file order.

    Line numbers of a byte range count from the range's first line (:func:`merge_units` adds the
    lines of the ranges before it). ``options`` go to the format's reader (whole-file units only).
    """
    if unit.is_range:
        for lineno, raw in _range_lines(unit):
            item = parse_canonical_line(raw, lineno)
            if isinstance(item, Transcript):
                item.metadata.setdefault("source_format", unit.format)
            yield item
        return
    for item in FORMATS[unit.format].read(unit.path, **options):
        if isinstance(item, Transcript):
            item.metadata.setdefault("source_format", unit.format)
        yield item


def _count_lines(unit: WorkUnit) -> int:
    """Newlines in a byte range: how many lines the next range's numbering is shifted by."""
    if not unit.is_range or unit.end is None:
        return 0
    with _open(unit.path) as fh:
        fh.seek(unit.start)
        return fh.read(unit.end - unit.start).count(b"\n")


# --------------------------------------------------------------------------------------------------
# scoring one unit


@dataclass(frozen=True, slots=True)
class ScoreSettings:
    """What every unit is scored with (picklable, sent to worker processes)."""

    out_format: str = "parquet"
    metrics: tuple[str, ...] | None = None
    evidence: bool = False
    chunk_size: int = 2000
    strict: bool = True
    options: tuple[tuple[str, Any], ...] = ()
    metadata: tuple[str, ...] = ()


@dataclass(slots=True)
class UnitResult:
    """The scored tables of one unit as file bytes in the output format, and what loading found.

    ``rejected`` and ``error`` carry line numbers relative to the unit (see :func:`iter_unit`);
    ``n_newlines`` is the number of lines the unit spans (byte ranges only). ``ids`` holds ``(conversation id,
    record number)`` for each transcript scored, records counted from 1 in the unit, and ``n_records`` how many
    records the unit read: the parent checks ids across units (:func:`merge_units`), keeping only ids in memory.
    """

    index: int
    path: str
    messages: bytes
    conversations: bytes
    provenance: dict[str, Any]
    loaded: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    error: RecordError | None = None
    n_newlines: int = 0
    is_range: bool = False
    start: int = 0
    n_rows: int = 0
    n_branches: int = 0
    ids: list[tuple[str, int]] = field(default_factory=list)
    n_records: int = 0


def _score_items(items: Iterable[Transcript], index: int, path: str, settings: ScoreSettings) -> UnitResult:
    from welfare.score import conversations_path, write_scores

    tmp = tempfile.mkdtemp(prefix="welfare-unit-")
    try:
        part = Path(tmp) / f"part.{settings.out_format}"
        prov = write_scores(items, part, format=settings.out_format,
                            metrics=list(settings.metrics) if settings.metrics is not None else None,
                            evidence=settings.evidence, chunk_size=settings.chunk_size, metadata=settings.metadata)
        messages = part.read_bytes()
        conversations = conversations_path(part).read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n_rows, n_branches = int(prov.pop("rows", 0)), int(prov.pop("branches", 0))
    for key in ("outputs", "inputs"):
        prov.pop(key, None)
    return UnitResult(index, path, messages, conversations, prov, n_rows=n_rows, n_branches=n_branches)


def score_unit(unit: WorkUnit, settings: ScoreSettings, skip: frozenset[int] = frozenset()) -> UnitResult:
    """Read and score one unit (runs in a worker process or on a Dask worker).

    In strict mode reading stops at the first bad record, which is returned in ``error`` (the parent
    raises it with the file and absolute line); in lenient mode bad records go to ``rejected``.
    ``skip``: record numbers (from 1 in the unit) left out, neither scored nor counted: the parent's
    rescoring of a unit holding conversation ids already read (lenient mode; see :func:`merge_units`).
    """
    loaded = 0
    rejected: list[Rejected] = []
    error: list[RecordError] = []
    ids: list[tuple[str, int]] = []
    record = 0

    def good() -> Iterator[Transcript]:
        nonlocal loaded, record
        for item in iter_unit(unit, **dict(settings.options)):
            record += 1
            if record in skip:
                continue
            if isinstance(item, RecordError):
                if settings.strict:
                    error.append(item)
                    return
                rejected.append(Rejected(unit.path, item.line, item.reason, item.field, item.record_id))
                continue
            loaded += 1
            ids.append((item.id, record))
            yield item

    result = _score_items(good(), unit.index, unit.path, settings)
    result.loaded = loaded
    result.ids = ids
    result.n_records = record
    result.rejected = rejected
    result.error = error[0] if error else None
    result.is_range = unit.is_range
    result.start = unit.start
    result.n_newlines = _count_lines(unit) if unit.is_range else 0
    return result


def score_transcripts_unit(items: Iterable[Transcript | dict[str, Any]], index: int,
                           settings: ScoreSettings) -> UnitResult:
    """Score an in-memory partition (transcripts or canonical dicts), e.g. one partition of a Dask bag."""
    loaded = 0
    ids: list[tuple[str, int]] = []

    def transcripts() -> Iterator[Transcript]:
        nonlocal loaded
        for item in items:
            loaded += 1
            t = item if isinstance(item, Transcript) else Transcript.from_dict(item)
            ids.append((t.id, loaded))
            yield t

    result = _score_items(transcripts(), index, f"<partition {index}>", settings)
    result.loaded = loaded
    result.ids = ids
    result.n_records = loaded
    return result


# --------------------------------------------------------------------------------------------------
# merging parts into the output


class _PartWriter:
    """Appends the parts of one table, in order, to one output file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._parquet: Any = None
        self._fh: IO[bytes] | None = None
        self._header = False

    def append(self, data: bytes, provenance: Callable[[], dict[str, Any]]) -> None:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            part = pq.ParquetFile(io.BytesIO(data))
            if self._parquet is None:
                meta = {b"welfare": json.dumps(provenance()).encode("utf-8")}
                self._parquet = pq.ParquetWriter(str(self.path), part.schema_arrow.with_metadata(meta))
            for k in range(part.num_row_groups):
                self._parquet.write_table(part.read_row_group(k))
            return
        if self._fh is None:
            self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        if not data:
            return
        if self.fmt == "csv" and self._header:
            cut = data.find(b"\n")
            data = b"" if cut < 0 else data[cut + 1 :]
        self._header = True
        self._fh.write(data)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._fh is not None:
            self._fh.close()


def merge_units(results: Iterable[UnitResult], out: str | os.PathLike[str], *, out_format: str,
                inputs: Callable[[], list[dict[str, Any]]] | Sequence[dict[str, Any]] = (),
                report: LoadReport | None = None, strict: bool = True,
                rescore: Callable[[int, frozenset[int]], UnitResult] | None = None) -> dict[str, Any]:
    """Append unit results (in plan order) to the two output tables and return the provenance.

    ``inputs`` (or a function returning it, called once at the end so input hashing can overlap the
    scoring) is recorded in the provenance. In strict mode the first unit with a bad record raises
    :class:`~welfare.io.LogFormatError` naming the file and its absolute line, after closing the outputs.

    A conversation id read a second time (within a unit or across units and files) is a bad record, as in
    :func:`welfare.load`: strict mode raises it naming both places; lenient mode lists it as rejected and
    calls ``rescore(unit index, record numbers to skip)`` for a unit scored without knowing, so its rows
    never reach the tables. Only the ids are held (:class:`~welfare.io.ConversationIds`).
    """
    from welfare.score import conversations_path, write_provenance

    out_path = Path(out)
    conv_path = conversations_path(out_path)
    with ExitStack() as outputs:
        # both tables go to temporary files renamed into place only when every unit merged: a strict failure
        # (or an interrupt) leaves no table that holds only the records before the bad one
        partial = [Path(outputs.enter_context(atomic_output(p))) for p in (out_path, conv_path)]
        final = _merge_into(results, partial, out_path, conv_path, out_format, inputs, report, strict, rescore)
    return write_provenance(out_path, out_format, final)


def _merge_into(results: Iterable[UnitResult], partial: list[Path], out_path: Path, conv_path: Path,
                out_format: str, inputs: Callable[[], list[dict[str, Any]]] | Sequence[dict[str, Any]],
                report: LoadReport | None, strict: bool,
                rescore: Callable[[int, frozenset[int]], UnitResult] | None) -> dict[str, Any]:
    """:func:`merge_units`' work on the two (temporary) files ``partial``; the provenance names the final paths."""
    writers = [_PartWriter(partial[0], out_format), _PartWriter(partial[1], out_format)]
    rep = report if report is not None else LoadReport()
    prov: dict[str, Any] = {}
    listed: list[dict[str, Any]] | None = None

    def provenance() -> dict[str, Any]:
        nonlocal listed
        if listed is None:
            listed = list(inputs() if callable(inputs) else inputs)
        return {**prov, "inputs": listed}

    rows = branches = 0
    line_offset: dict[str, int] = {}
    record_offset: dict[str, int] = {}
    seen = ConversationIds()
    failure: Exception | None = None
    try:
        for res in results:
            # a file's first range starts at line 1 (also when the same file is given twice)
            offset = line_offset.get(res.path, 0) if res.is_range and res.start > 0 else 0
            first_record = record_offset.get(res.path, 0) if res.is_range and res.start > 0 else 0
            n_records = res.n_records
            again: list[tuple[int, RecordError]] = []
            for cid, record in res.ids:
                dup = seen.check(cid, res.path, first_record + record)
                if dup is not None:
                    again.append((record, dup))
                    if strict:
                        break
            if again and strict:
                failure = again[0][1].to_exception(res.path)
                break
            if again:
                if rescore is None:
                    raise ParallelInputError(f"{res.path}: {again[0][1].reason}; this input cannot be rescored "
                                             "without the repeated conversations: drop them first (for a Dask bag, "
                                             "bag.distinct(key=lambda t: t.id))")
                res = rescore(res.index, frozenset(record for record, _ in again))
                rep.rejected.extend(Rejected(res.path, None, dup.reason, None, dup.record_id) for _, dup in again)
            prov = prov or res.provenance
            writers[0].append(res.messages, provenance)
            writers[1].append(res.conversations, provenance)
            rows += res.n_rows
            branches += res.n_branches
            rep.loaded += res.loaded
            for r in res.rejected:
                rep.rejected.append(replace(r, line=None if r.line is None else r.line + offset))
            if res.error is not None and strict:
                err = res.error
                failure = replace(err, line=None if err.line is None else err.line + offset).to_exception(res.path)
                break
            if res.is_range:
                line_offset[res.path] = offset + res.n_newlines
                record_offset[res.path] = first_record + n_records
    finally:
        for w in writers:
            w.close()
    if failure is not None:
        raise failure
    return {**provenance(), "rows": rows, "branches": branches,
            "outputs": {"messages": str(out_path), "conversations": str(conv_path)}}


# --------------------------------------------------------------------------------------------------
# the entry point


def _output_format(out: Path, out_format: str | None) -> str:
    from welfare.score import OUTPUT_FORMATS

    name = out_format or out.suffix.lstrip(".").lower()
    if name not in OUTPUT_FORMATS:
        raise ParallelInputError(f"cannot tell the output format of {str(out)!r}: expected a .csv, .parquet or "
                                 f".jsonl file name or out_format= one of {', '.join(OUTPUT_FORMATS)}, found {name!r}")
    return name


def _describe_inputs(units: Sequence[WorkUnit]) -> list[dict[str, Any]]:
    from welfare.score import file_sha256

    seen: dict[str, str] = {}
    for u in units:
        seen.setdefault(u.path, u.format)
    out = []
    for path, fmt in seen.items():
        entry: dict[str, Any] = {"path": path}
        if not is_url(path):
            entry["sha256"] = file_sha256(path)
        entry["format"] = fmt
        out.append(entry)
    return out


def resolve_jobs(jobs: int | None) -> int:
    """``jobs`` as a process count: ``None`` or ``0`` means every CPU; negative values are an error."""
    if jobs is None or jobs == 0:
        return max(1, os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 0:
        raise ParallelInputError(f"jobs must be a positive number of processes (or 0 for every CPU), found {jobs!r}")
    return jobs


def _warm(metrics: tuple[str, ...] | None) -> None:
    """Build the matcher and import the metric families once, before worker processes fork."""
    from welfare.metrics import default_matcher, get_metric, list_metrics

    default_matcher()
    list_metrics()
    for name in metrics or ():
        get_metric(name)  # an unknown name fails here, with the registry's message, before any work starts


def score_files(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                jobs: int | None = 1, format: str | None = None, out_format: str | None = None,
                metrics: Sequence[str] | None = None, evidence: bool = False, strict: bool = True,
                report: LoadReport | None = None, chunk_size: int = 2000, chunk_bytes: int | None = None,
                hash_inputs: bool = True, metadata: Sequence[str] | None = None, **options: Any) -> dict[str, Any]:
    """Score log files on ``jobs`` processes and write the message and conversation tables.

    The output is the same, byte for byte, for every ``jobs``: units (:func:`plan_units`) are scored
    independently and appended in plan order. The tables hold the same rows, in the same order, as
    ``welfare.write_scores(welfare.load(paths), out)``.

    Parameters
    ----------
    paths
        Files, directories, globs or fsspec URLs (canonical JSONL only), as for :func:`welfare.load`.
    out
        The message table (``.parquet``, ``.csv`` or ``.jsonl``); the conversation table goes beside it
        (:func:`welfare.score.conversations_path`).
    jobs
        Worker processes (``None`` or ``0``: one per CPU). ``1`` scores in this process.
    format
        Input format name; detected per file when ``None``.
    out_format
        Output format; taken from ``out``'s suffix when ``None``.
    metrics, evidence, chunk_size, metadata
        As for :func:`welfare.score.write_scores`.
    strict, report
        As for :func:`welfare.load`: strict raises the first bad record (file and line); lenient lists
        bad records in ``report.rejected``.
    chunk_bytes
        Size of the byte ranges canonical JSONL files are cut into (default: :func:`auto_chunk_bytes`).
    hash_inputs
        Record each input file's SHA-256 in the provenance (computed while scoring runs).
    options
        Passed to the format readers (as for :func:`welfare.load`).

    Returns
    -------
    dict
        The provenance, with ``rows`` (message rows), ``branches`` (conversation rows) and ``outputs``.
    """
    out_path = Path(out)
    fmt = _output_format(out_path, out_format)
    n_jobs = resolve_jobs(jobs)
    units = plan_units(paths, format=format, chunk_bytes=chunk_bytes)
    if not units:
        raise ParallelInputError(f"no input files in {paths!r}; give log files, directories holding some, or globs")
    from welfare.score import conversations_path, provenance_path

    try:
        refuse_overwriting_inputs([out_path, conversations_path(out_path), provenance_path(out_path)],
                                  [u.path for u in units])
    except ValueError as err:
        raise ParallelInputError(str(err)) from None
    settings = ScoreSettings(out_format=fmt, metrics=tuple(metrics) if metrics is not None else None,
                             evidence=evidence, chunk_size=chunk_size, strict=strict,
                             options=tuple(sorted(options.items())), metadata=_checked_metadata(metadata, metrics))
    rep = report if report is not None else LoadReport()
    for u in units:
        rep.formats.setdefault(u.path, u.format)
    _warm(settings.metrics)

    def rescore(index: int, skip: frozenset[int]) -> UnitResult:  # rare: a unit repeating conversation ids
        return score_unit(units[index], settings, skip)

    hasher = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        if n_jobs == 1 or len(units) == 1:
            hashed = hasher.submit(_describe_inputs if hash_inputs else _plain_inputs, units)
            results: Iterable[UnitResult] = (score_unit(u, settings) for u in units)
            return merge_units(results, out_path, out_format=fmt, inputs=hashed.result, report=rep, strict=strict,
                               rescore=rescore)
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ctx.Pool(min(n_jobs, len(units))) as pool:
            # the pool forks before the hashing thread starts, so no child inherits a held lock
            hashed = hasher.submit(_describe_inputs if hash_inputs else _plain_inputs, units)
            results = pool.imap(_score_unit_star, [(u, settings) for u in units], chunksize=1)
            return merge_units(results, out_path, out_format=fmt, inputs=hashed.result, report=rep, strict=strict,
                               rescore=rescore)
    finally:
        hasher.shutdown(wait=True)


def _checked_metadata(metadata: Sequence[str] | None, metrics: Sequence[str] | None) -> tuple[str, ...]:
    """``metadata`` checked against the columns the chosen metrics give, before any work starts."""
    from welfare.score import _choose, check_metadata_columns

    return check_metadata_columns(metadata, _choose(metrics))


def _plain_inputs(units: Sequence[WorkUnit]) -> list[dict[str, Any]]:
    seen: dict[str, str] = {}
    for u in units:
        seen.setdefault(u.path, u.format)
    return [{"path": p, "format": f} for p, f in seen.items()]


def _score_unit_star(args: tuple[WorkUnit, ScoreSettings]) -> UnitResult:
    return score_unit(*args)
