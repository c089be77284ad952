"""``welfare validate --dataset NAME --path P [-o OUT]``: agreement of the metrics with a human-labelled dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "validate"
#: The registered validators (welfare.validation.validators()), named here so that `--help` needs no import of them;
#: a test keeps the two in step.
DATASETS = ("xstest", "hh_rlhf", "goemotions", "convabuse", "bailbench", "distress", "transfer")
HELP = f"validate metrics against a human-labelled dataset ({', '.join(DATASETS)}) read from disk"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help=f"dataset name: {', '.join(DATASETS)} (any registered one)")
    p.add_argument("--path", required=True, help="local path of the dataset (file or folder, as its reader expects)")
    p.add_argument("-o", "--output", help="write the results table here (.csv, .json or .md); default: print Markdown")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap draws for bootstrap intervals (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")


def run(args: argparse.Namespace) -> int:
    from welfare.validation import ValidationInputError, markdown_table, validate

    out = Path(args.output) if args.output else None
    if out is not None:  # checked before the (long) computation, not after it
        if out.suffix.lower() not in (".csv", ".json", ".md"):
            print(f"welfare validate: error: -o {out}: expected a .csv, .json or .md file name", file=sys.stderr)
            return 2
        if not out.parent.is_dir():
            print(f"welfare validate: error: -o {out}: folder {out.parent} does not exist", file=sys.stderr)
            return 2
    try:
        results = validate(args.dataset, args.path, n_boot=args.n_boot, seed=args.seed)
    except ValidationInputError as err:
        print(f"welfare validate: error: {err}", file=sys.stderr)
        return 2
    if out is None:
        print(markdown_table(results), end="")
        return 0
    if out.suffix.lower() == ".csv":
        results.to_csv(out, index=False)
    elif out.suffix.lower() == ".json":
        results.to_json(out, orient="records", indent=2)
    else:
        out.write_text(markdown_table(results), encoding="utf-8")
    print(f"wrote {len(results)} rows to {out}")
    return 0
