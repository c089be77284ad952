"""Scoring on a Dask cluster: partitions by file and by line-aligned byte range, tables identical to one process.

Dask and distributed are an optional extra (``pip install 'welfare[dask]'``), imported only when a
function here is called. Every partition is one :class:`welfare.parallel.WorkUnit` (or one
partition of a Dask bag of transcripts); workers score it and send back the two tables as file
bytes, which this process appends in partition order. See ``docs/scaling.md`` for running it on a
real cluster and reading logs from object storage.

>>> from welfare.dask import score_dask
>>> score_dask("s3://bucket/logs/*.jsonl", "scores.parquet", scheduler="tcp://10.0.0.5:8786")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from welfare.io import LoadReport
from welfare.parallel import (
    ParallelInputError,
    ScoreSettings,
    UnitResult,
    _checked_metadata,
    _describe_inputs,
    _output_format,
    _plain_inputs,
    merge_units,
    plan_units,
    score_transcripts_unit,
    score_unit,
)

__all__ = ["DaskNotInstalledError", "require_dask", "score_dask"]

_EXTRA = "pip install 'welfare[dask]'"


class DaskNotInstalledError(ImportError):
    """Dask or distributed is missing; the message names the extra to install."""


def require_dask() -> tuple[Any, Any]:
    """Import and return ``(dask, distributed)``, or raise :class:`DaskNotInstalledError` naming the extra."""
    try:
        dask = importlib.import_module("dask")
        importlib.import_module("dask.bag")
        distributed = importlib.import_module("distributed")
    except ImportError as err:
        raise DaskNotInstalledError(
            f"scoring on Dask needs dask[bag] and distributed, which are not installed ({err}); "
            f"install the optional extra: {_EXTRA}"
        ) from err
    return dask, distributed


def _is_bag(source: Any) -> bool:
    return type(source).__module__.startswith("dask.bag") and hasattr(source, "to_delayed")


def score_dask(source: Any, out: str | os.PathLike[str], *, scheduler: Any = None, format: str | None = None,
               out_format: str | None = None, metrics: Sequence[str] | None = None, evidence: bool = False,
               strict: bool = True, report: LoadReport | None = None, chunk_size: int = 2000,
               chunk_bytes: int | None = None, hash_inputs: bool = True, window: int | None = None,
               metadata: Sequence[str] | None = None, **options: Any) -> dict[str, Any]:
    """Score logs on a Dask cluster and write the message and conversation tables here.

    Parameters
    ----------
    source
        Paths, directories, globs or fsspec URLs (as for :func:`welfare.parallel.score_files`; every worker
        must be able to read them: a shared file system or object storage), or a ``dask.bag.Bag`` of
        :class:`~welfare.transcript.Transcript` values or canonical conversation dicts.
    out
        The message table (``.parquet``, ``.csv`` or ``.jsonl``); the conversation table goes beside it.
    scheduler
        A scheduler address (``"tcp://host:8786"``), a ``distributed.Client``, or ``None`` for the current
        client (``distributed.get_client()``) when there is one, else Dask's local scheduler.
    format, out_format, metrics, evidence, strict, report, chunk_size, chunk_bytes, hash_inputs, metadata, options
        As for :func:`welfare.parallel.score_files`.
    window
        Partitions in flight at once (bounds the memory held by finished, unwritten parts); by default
        four per worker thread.

    Returns
    -------
    dict
        The provenance, with ``rows``, ``branches`` and ``outputs``. The tables are identical, byte for
        byte, to ``score_files(paths, out, jobs=1)`` with the same ``chunk_bytes``.

    Raises
    ------
    DaskNotInstalledError
        When dask or distributed is not installed.
    """
    dask, distributed = require_dask()
    out_path = Path(out)
    fmt = _output_format(out_path, out_format)
    settings = ScoreSettings(out_format=fmt, metrics=tuple(metrics) if metrics is not None else None,
                             evidence=evidence, chunk_size=chunk_size, strict=strict,
                             options=tuple(sorted(options.items())), metadata=_checked_metadata(metadata, metrics))
    rep = report if report is not None else LoadReport()
    if _is_bag(source):
        parts = source.to_delayed()
        tasks = [dask.delayed(score_transcripts_unit)(p, k, settings) for k, p in enumerate(parts)]
        inputs: list[dict[str, Any]] = [{"path": "<dask bag>", "partitions": len(parts)}]
        describe = lambda: inputs  # noqa: E731
        rescore: Callable[[int, frozenset[int]], UnitResult] | None = None  # a bag's partitions cannot be read
        # again here: repeated ids are an error, lenient too
    else:
        units = plan_units(source, format=format, chunk_bytes=chunk_bytes)
        if not units:
            raise ParallelInputError(f"no input files in {source!r}; give log files, directories holding some, "
                                     "or globs")
        for u in units:
            rep.formats.setdefault(u.path, u.format)
        run = uuid.uuid4().hex[:12]  # fresh keys: a rerun after the log changed must not reuse held results
        tasks = [dask.delayed(score_unit)(u, settings, dask_key_name=f"welfare-unit-{run}-{u.index}") for u in units]
        describe = (lambda: _describe_inputs(units)) if hash_inputs else (lambda: _plain_inputs(units))

        def rescore_here(index: int, skip: frozenset[int]) -> UnitResult:  # here, not on the cluster: rare
            return score_unit(units[index], settings, skip)

        rescore = rescore_here

    client, owned = _client(distributed, scheduler)
    try:
        results = _in_order(dask, client, tasks, window)
        return merge_units(results, out_path, out_format=fmt, inputs=describe, report=rep, strict=strict,
                           rescore=rescore)
    finally:
        if owned:
            client.close()


def _client(distributed: Any, scheduler: Any) -> tuple[Any, bool]:
    if scheduler is None:
        try:
            return distributed.get_client(), False
        except ValueError:
            return None, False
    if isinstance(scheduler, str):
        return distributed.Client(scheduler), True
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    raise ParallelInputError(f"scheduler must be an address such as 'tcp://host:8786', a distributed.Client or "
                             f"None, found {type(scheduler).__name__}")


def _in_order(dask: Any, client: Any, tasks: Sequence[Any], window: int | None) -> Iterator[UnitResult]:
    """Results of ``tasks`` in their order, keeping at most ``window`` submitted and not yet consumed."""
    if client is None:
        size = window or 4 * (os.cpu_count() or 1)
        for start in range(0, len(tasks), size):
            yield from dask.compute(*tasks[start : start + size])
        return
    size = window or 4 * max(1, sum(client.nthreads().values()))
    pending: list[Any] = []
    queue: Iterable[Any] = iter(tasks)
    for task in queue:
        pending.append(client.compute(task))
        if len(pending) >= size:
            break
    for task in queue:
        future = pending.pop(0)
        yield future.result()
        future.release()
        pending.append(client.compute(task))
    for future in pending:
        yield future.result()
        future.release()
