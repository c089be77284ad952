"""``welfare report LOGS... -o DIR [--spec SPEC] [--notebook NAME] [--format NAME] [--lenient]``: the rerunnable
analysis report."""

from __future__ import annotations

import argparse
import ast
import sys
from typing import Any

from welfare.commands._logs import add_log_arguments, reader_options

DEFAULT_NOTEBOOK = "02_end_conversation_analysis"  # kept equal to welfare.report.DEFAULT_NOTEBOOK (tested)
NAME = "report"
HELP = "run the analysis notebook on logs: executed notebook, HTML, figures (PDF/PNG), tables (CSV/Parquet/LaTeX)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_log_arguments(p)  # LOGS, --format, --lenient and the table columns, as for every command that reads logs
    p.add_argument("-o", "--output", required=True, help="folder to write the report into")
    p.add_argument("--spec", help="analysis spec (YAML or JSON file)")
    p.add_argument("--notebook", default=DEFAULT_NOTEBOOK,
                   help=f"bundled notebook name or path to a .py/.ipynb notebook (default: {DEFAULT_NOTEBOOK})")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter of the notebook's parameters cell, e.g. -p n_boot=2000 -p "
                        "\"event_anchor=role == 'user' and hostility >= 0.7\" (repeatable). VALUE is read as a "
                        "Python literal (number, list, True, None, quoted string) and otherwise kept as text")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed per notebook cell (default: 600)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings as a dict: VALUE as a Python literal when it is one, else the text itself."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--param {item!r}: expected NAME=VALUE, e.g. n_boot=2000")
        try:
            out[name] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            out[name] = raw
    return out


def run(args: argparse.Namespace) -> int:
    from welfare.report import run_report  # heavy: imported when the command runs, not when the CLI starts

    try:
        load_options = {**({"format": args.format} if args.format else {}),
                        **({"strict": False} if args.lenient else {}), **reader_options(args)}
        result = run_report(args.logs, args.output, spec=args.spec, notebook=args.notebook, timeout=args.timeout,
                            progress=not args.no_progress, parameters=parse_params(args.param),
                            load_options=load_options or None)
    except ValueError as err:  # ReportError and every input error say what, where and how to fix
        print(f"welfare report: error: {err}", file=sys.stderr)
        return 1
    print(f"report: {result.html}")
    print(f"notebook: {result.notebook}")
    print(f"{len(result.tables)} table files, {len(result.figures)} figure files, provenance: {result.provenance}")
    return 0
