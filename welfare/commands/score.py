"""``welfare score LOGS... -o OUT``: score every message and branch, stream both tables to disk."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from welfare.commands._logs import add_log_arguments, reader_options
from welfare.io import LoadReport

NAME = "score"
HELP = "score logs: write the message table to OUT and the conversation table beside it"
DESCRIPTION = (
    "Score every message of every branch with every registered metric (or --metrics) and write the "
    "message table to OUT (.csv, .parquet or .jsonl, or --out-format). The conversation table (one row "
    "per branch) goes beside it: OUT's stem + '.conversations' + suffix, e.g. scores.parquet -> "
    "scores.conversations.parquet. Tables are written in chunks, so memory stays flat. Provenance "
    "(package, metric and lexicon versions, parameters, input files with SHA-256) is in the Parquet "
    "metadata (key 'welfare'), or in OUT's stem + '.provenance.json' for CSV and JSON Lines."
)
MAX_LISTED_REJECTS = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_log_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="message table (.csv, .parquet or .jsonl); the conversation table goes to "
                        "OUT-stem.conversations.SUFFIX")
    p.add_argument("--out-format", choices=("csv", "parquet", "jsonl"),
                   help="output format (default: from OUT's suffix)")
    p.add_argument("--metrics", metavar="A,B", help="comma-separated metric names (dependencies are added); "
                                                    "default: all (see `welfare metrics`)")
    p.add_argument("--evidence", action="store_true",
                   help="add an 'evidence' column: the counted lexicon spans of each message, as JSON")
    p.add_argument("--metadata", metavar="KEY,KEY", help="comma-separated keys of the logs' conversation metadata "
                   "to carry into both tables as text columns (e.g. variant when the arm is not named "
                   "'condition'); model, condition, user_id, started_at and pair_id are always there")
    p.add_argument("--chunk-size", type=int, default=2000, metavar="N",
                   help="conversations scored per chunk (default 2000)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="worker processes (0: one per CPU); large canonical JSONL files are split into byte "
                        "ranges; the tables are identical to --jobs 1 (see docs/scaling.md)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="score on the Dask cluster at ADDRESS (e.g. tcp://host:8786); needs welfare[dask]")


def run(args: argparse.Namespace) -> int:
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    metadata = [k.strip() for k in args.metadata.split(",") if k.strip()] if args.metadata else None
    return _run_units(args, metrics, metadata)


def _run_units(args: argparse.Namespace, metrics: list[str] | None, metadata: list[str] | None) -> int:
    """welfare.parallel.score_files (any --jobs, 1 included) or welfare.dask.score_dask: one path, so the files are
    the same, byte for byte, whatever the number of processes."""
    import welfare
    from welfare.metrics import UnknownMetricError
    from welfare.parallel import ParallelInputError, score_files
    from welfare.score import ScoreInputError

    report = welfare.LoadReport()
    options = {"format": args.format, "out_format": args.out_format, "metrics": metrics, "evidence": args.evidence,
               "strict": not args.lenient, "report": report, "chunk_size": args.chunk_size, "metadata": metadata,
               **reader_options(args)}
    try:
        if args.dask:
            from welfare.dask import DaskNotInstalledError, score_dask

            try:
                prov = score_dask(args.logs, args.output, scheduler=args.dask, **options)
            except DaskNotInstalledError as err:
                print(f"welfare score: error: {err}", file=sys.stderr)
                return 2
        else:
            prov = score_files(args.logs, args.output, jobs=args.jobs, **options)
    except (ScoreInputError, UnknownMetricError, ParallelInputError) as err:
        print(f"welfare score: error: {err}", file=sys.stderr)
        return 2
    _summary(prov, report)
    return 0


def _summary(prov: dict[str, Any], report: LoadReport) -> None:
    outputs = prov["outputs"]
    print(f"wrote {prov['rows']} message rows to {outputs['messages']} and {prov['branches']} branch rows to "
          f"{outputs['conversations']}", file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    for rejected in report.rejected[:MAX_LISTED_REJECTS]:
        print(f"  rejected: {rejected}", file=sys.stderr)
    if len(report.rejected) > MAX_LISTED_REJECTS:
        print(f"  ... and {len(report.rejected) - MAX_LISTED_REJECTS} more rejected records", file=sys.stderr)
