"""``welfare metrics [--json]``: every registered metric with its version, level, kind, range and definition."""

from __future__ import annotations

import argparse
import json

NAME = "metrics"
HELP = "list every metric: name, version, family, level, kind, range, definition"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    from welfare.metrics import metrics_table

    table = metrics_table()
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2, ensure_ascii=False))
        return 0
    for row in table.itertuples(index=False):
        print(f"{row.name} {row.version}  [{row.family}, {row.level}, {row.kind}, {row.range}, roles {row.roles}]")
        print(f"    {row.definition}")
    return 0
