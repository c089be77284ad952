"""``welfare simulate``: write simulated conversations with known ground truth (canonical JSONL by default)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from welfare.transcript import Transcript

NAME = "simulate"
HELP = "simulate conversations with known ground truth (synthetic: checks pipelines, never validates metrics)"
#: Formats simulate refuses, and why: their records cannot hold a simulated conversation (several turns, edits and
#: regenerations), or welfare.load cannot read the file back as logs.
_REFUSED = {
    "table": "one prompt and one response per row, not a multi-turn conversation",
    "hh_rlhf": "a chosen/rejected pair of transcripts, not a conversation with several edits",
    "message_table": "a flat table for pandas that welfare cannot load back as logs (`welfare convert SIM.jsonl -o "
                     "SIM.parquet` makes one from a simulated log)",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML or JSON file with the parameters to change (default: built-in)")
    p.add_argument("--seed", type=int, help="root seed (overrides the config)")
    p.add_argument("--conversations", type=int, help="number of openings; each is simulated under every arm")
    p.add_argument("--arms", nargs="+", metavar="ARM", help="policies to simulate, e.g. no_end_tool end_tool_last_resort")
    p.add_argument("--no-text", action="store_true", help="ground truth only, empty message text (fast)")
    p.add_argument("--format", metavar="NAME",
                   help="write another log format with welfare.io.write (default: the format OUT's name "
                        "implies, as for `welfare convert`; see `welfare convert --help` for the names)")
    p.add_argument("--show-config", action="store_true",
                   help="print the effective configuration as YAML (every parameter) and exit")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output file: .jsonl or .jsonl.gz (canonical JSONL; reproducible gzip), .eval (Inspect "
                        "log) or conversations.json (ChatGPT export); other names need --format")


def run(args: argparse.Namespace) -> int:
    import welfare.io
    from welfare.simulate import (  # heavy: imported when the command runs, not when the CLI starts
        SimulationConfigError,
        default_config,
        iter_conversations,
        load_config,
        write_jsonl,
    )

    overrides = {"seed": args.seed, "n_conversations": args.conversations,
                 "arms": tuple(args.arms) if args.arms else None}
    try:
        if args.config:
            cfg = load_config(args.config, **overrides)
        else:
            cfg = default_config(**{k: v for k, v in overrides.items() if v is not None})
    except SimulationConfigError as err:
        print(f"welfare simulate: error: {err}", file=sys.stderr)
        return 1
    if args.show_config:
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    if not args.output:
        print("welfare simulate: error: -o/--output is required (or pass --show-config)", file=sys.stderr)
        return 2
    if cfg.n_conversations == 0:
        # an empty log cannot be read back (format detection needs a record), so nothing is written
        print("welfare simulate: error: n_conversations = 0 simulates nothing and no file was written; "
              "give --conversations 1 or more", file=sys.stderr)
        return 1
    fmt = _output_format(args.output, args.format)
    if fmt is None:
        return 1
    n = 0

    def counted() -> Iterator[Transcript]:
        nonlocal n
        for t in iter_conversations(cfg, render_text=not args.no_text):
            n += 1
            yield t

    if fmt == "canonical":
        write_jsonl(counted(), args.output)
    else:
        welfare.io.write(counted(), args.output, format=fmt)
    print(f"wrote {n} conversations ({cfg.n_conversations} openings x {len(cfg.arms)} arms + new chats) "
          f"to {args.output}", file=sys.stderr)
    return 0


def _output_format(output: str, given: str | None) -> str | None:
    """The format to write: ``--format``, else the one ``output``'s name implies (None, after an error message).

    Never canonical JSONL under a name that says otherwise (``sim.csv``), and never a format in ``_REFUSED``.
    """
    import welfare.io

    if given is None:
        try:
            given = welfare.io.format_for_path(output)
        except welfare.io.UnknownFormatError as err:
            print(f"welfare simulate: error: {output}: {err.reason}; expected {err.expected}, found {err.found}. "
                  "Name the file .jsonl or .jsonl.gz (canonical JSONL), or pass --format NAME", file=sys.stderr)
            return None
    if given in _REFUSED:
        print(f"welfare simulate: error: {output}: format {given!r} holds {_REFUSED[given]}; write .jsonl or "
              ".jsonl.gz (canonical JSONL), or pass --format with a multi-turn log format such as openai or sharegpt",
              file=sys.stderr)
        return None
    return given
