"""``welfare convert LOGS -o OUT``: rewrite logs in another format (canonical JSONL by default)."""

from __future__ import annotations

import argparse
import os
import sys

from welfare.commands._logs import add_log_arguments, reader_options
from welfare.io import LoadReport, UnknownFormatError, convert_logs, writable_formats

NAME = "convert"
HELP = "convert logs to another format (canonical JSONL, message-table Parquet, or any log format)"
DESCRIPTION = (HELP + ". The output format comes from --to or from the output name: .jsonl → canonical, "
               ".parquet → message table, .csv/.tsv → table, .eval → inspect, conversations.json → chatgpt. "
               "Exit status: 0 on success, 1 when strict loading meets a bad record (nothing is written), "
               "2 on a usage error.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_log_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file")
    p.add_argument("--to", choices=writable_formats(), metavar="FORMAT",
                   help="output format (default: from the output name); one of: " + ", ".join(writable_formats()))
    p.add_argument("--branches", choices=("all", "active"), default=None,
                   help="for formats that hold one message list per record: write every branch of a tree "
                        "as its own record (all, the default) or only the active one")


def run(args: argparse.Namespace) -> int:
    report = LoadReport()
    options = {"branches": args.branches} if args.branches else {}
    try:
        written, fmt = convert_logs(args.logs, args.output, to=args.to, format=args.format,
                                    strict=not args.lenient, report=report, read_options=reader_options(args),
                                    write_options=options)
    except UnknownFormatError as err:
        if err.path != os.fspath(args.output):
            raise  # an input the loader cannot place: a load failure (exit 1)
        print(f"welfare convert: error: {err}", file=sys.stderr)
        return 2  # the output name implies no format and --to was not given
    except ValueError as err:  # a bad record (strict) or a conversation the output format cannot hold
        print(f"welfare convert: error: {err}", file=sys.stderr)
        return 1
    print(f"{report.summary()}; wrote {written} records as {fmt} to {args.output}")
    for rej in report.rejected[:20]:
        print(f"  rejected: {rej}", file=sys.stderr)
    if len(report.rejected) > 20:
        print(f"  ... and {len(report.rejected) - 20} more rejected", file=sys.stderr)
    return 0
