"""``welfare analyze INPUT --spec SPEC -o DIR``: run an analysis spec on score tables and write the results."""

from __future__ import annotations

import argparse
import sys

NAME = "analyze"
HELP = "estimate intervention effects from score tables with an analysis spec (YAML/JSON); write CSV + LaTeX"
DESCRIPTION = (
    "Read the tables written by `welfare score` (message and conversation tables, CSV/Parquet/JSONL, files or "
    "directories), run the analyses the spec asks for (see docs/estimands.md), and write one CSV per result, LaTeX "
    "for the short ones, and a copy of the spec to DIR."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="score tables or directories holding them")
    p.add_argument("--spec", required=True, help="analysis spec, .yaml or .json")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory for the results")


def run(args: argparse.Namespace) -> int:
    from welfare.analysis import (  # heavy: imported when the command runs, not when the CLI starts
        AnalysisInputError,
        analyze,
    )

    try:
        written = analyze(args.inputs, args.spec, args.output)
    except AnalysisInputError as err:
        print(f"welfare analyze: error: {err}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0
