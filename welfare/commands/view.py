"""``welfare view LOGS --id ID -o PAGE.html``: one conversation as a safe, self-contained HTML page."""

from __future__ import annotations

import argparse

NAME = "view"
HELP = "write one conversation as an HTML page: branches, evidence highlighted by metric family, endings marked"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("logs", nargs="+", help="log files, directories or globs")
    p.add_argument("--id", required=True, dest="conversation_id", help="id of the conversation to show")
    p.add_argument("-o", "--output", required=True, help="HTML file to write")
    p.add_argument("--format", help="log format (default: detect per file)")
    p.add_argument("--no-scores", action="store_true", help="do not score the conversation (no metric badges)")


def run(args: argparse.Namespace) -> int:
    from welfare.report import write_transcript_html  # heavy: imported when the command runs, not when the CLI starts

    path = write_transcript_html(args.logs, args.conversation_id, args.output, format=args.format,
                                 with_scores=not args.no_scores)
    print(path)
    return 0
