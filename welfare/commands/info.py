"""``welfare info LOGS``: what is in a set of logs (formats, conversations, roles, branches, endings, rejects)."""

from __future__ import annotations

import argparse
import json

from welfare.commands._logs import add_log_arguments, reader_options
from welfare.io.summary import summarize_logs

NAME = "info"
HELP = "summarise logs: formats, conversations, messages by role, branches, endings, rejects"
DESCRIPTION = (HELP + ". Exit status: 0 on success, 1 when strict loading meets a bad record "
               "(use --lenient to list bad records instead), 2 on a usage error.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_log_arguments(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    summary = summarize_logs(args.logs, format=args.format, strict=not args.lenient, **reader_options(args))
    print(json.dumps(summary.to_dict(), indent=2) if args.json else summary.to_text())
    return 0
