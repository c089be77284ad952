"""Arguments shared by the subcommands that read logs (``--format``, ``--lenient``, table columns)."""

from __future__ import annotations

import argparse
from typing import Any

from welfare.io import known_formats


def add_log_arguments(p: argparse.ArgumentParser) -> None:
    """``LOGS... [--format NAME] [--lenient] [--prompt COL --response COL --id COL --system COL]``."""
    p.add_argument("logs", nargs="+", help="log files, directories (read recursively) or globs; gzip is transparent")
    p.add_argument("--format", choices=known_formats(), metavar="NAME",
                   help="input format (default: detect per file); one of: " + ", ".join(known_formats()))
    p.add_argument("--lenient", action="store_true",
                   help="skip bad records and list them instead of failing on the first one")
    table = p.add_argument_group("table columns (format 'table': CSV/TSV/Parquet)")
    table.add_argument("--prompt", metavar="COL", help="column holding the user prompt")
    table.add_argument("--response", metavar="COL", help="column holding the assistant response")
    table.add_argument("--id", dest="id_column", metavar="COL", help="column holding the conversation id")
    table.add_argument("--system", metavar="COL", help="column holding a system prompt")


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """Reader keyword arguments from the table-column flags that were given."""
    options = {"prompt": args.prompt, "response": args.response, "id": args.id_column, "system": args.system}
    return {k: v for k, v in options.items() if v is not None}
