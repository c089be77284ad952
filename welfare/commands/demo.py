"""``welfare demo [-o DIR]``: the report on the bundled synthetic sample (what `make demo` runs)."""

from __future__ import annotations

import argparse
import sys

NAME = "demo"
HELP = "run the analysis report on the bundled synthetic sample (data/sample/)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="reports/demo", help="folder to write into (default: reports/demo)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from welfare.report import run_demo  # heavy: imported when the command runs, not when the CLI starts

    try:
        result = run_demo(args.output, progress=not args.no_progress)
    except ValueError as err:  # ReportError and every input error say what, where and how to fix
        print(f"welfare demo: error: {err}", file=sys.stderr)
        return 1
    print(f"report: {result.html}")
    return 0
