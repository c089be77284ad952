"""``welfare simulate``: write simulated conversations with known ground truth (canonical JSONL)."""

from __future__ import annotations

import argparse
import sys

import yaml

NAME = "simulate"
HELP = "simulate conversations with known ground truth (synthetic: checks pipelines, never validates metrics)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML or JSON file with the parameters to change (default: built-in)")
    p.add_argument("--seed", type=int, help="root seed (overrides the config)")
    p.add_argument("--conversations", type=int, help="number of openings; each is simulated under every arm")
    p.add_argument("--arms", nargs="+", metavar="ARM", help="policies to simulate, e.g. no_end_tool end_tool_last_resort")
    p.add_argument("--no-text", action="store_true", help="ground truth only, empty message text (fast)")
    p.add_argument("--format", metavar="NAME",
                   help="write another log format with welfare.io.write (default: canonical JSONL; "
                        "see `welfare convert --help` for the names)")
    p.add_argument("--show-config", action="store_true",
                   help="print the effective configuration as YAML (every parameter) and exit")
    p.add_argument("-o", "--output", help="output file: .jsonl, or .jsonl.gz (reproducible gzip)")


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
    convs = iter_conversations(cfg, render_text=not args.no_text)
    if args.format and args.format != "canonical":
        n = welfare.io.write(convs, args.output, format=args.format)
    else:
        n = write_jsonl(convs, args.output)
    print(f"wrote {n} conversations ({cfg.n_conversations} openings x {len(cfg.arms)} arms + new chats) "
          f"to {args.output}", file=sys.stderr)
    return 0
