"""``welfare info LOGS``: what is in a set of logs (formats, conversations, roles, branches, endings, rejects)."""

from __future__ import annotations

import argparse
import json

from welfare.io.summary import summarize_logs

NAME = "info"
HELP = "summarise logs: formats, conversations, messages by role, branches, endings, rejects"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("logs", nargs="+", help="log files, directories or globs")
    p.add_argument("--format", help="log format (default: detect per file)")
    p.add_argument("--lenient", action="store_true", help="skip bad records and report them instead of failing")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    summary = summarize_logs(args.logs, format=args.format, strict=not args.lenient)
    print(json.dumps(summary.to_dict(), indent=2) if args.json else summary.to_text())
    return 0
