"""``welfare simulate``: write simulated conversations with known ground truth (canonical JSONL)."""

from __future__ import annotations

import argparse
import sys

from welfare.simulate import default_config, iter_conversations, load_config, write_jsonl

NAME = "simulate"
HELP = "simulate conversations with known ground truth (synthetic: checks pipelines, never validates metrics)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML or JSON file with the parameters to change (default: built-in)")
    p.add_argument("--seed", type=int, help="root seed (overrides the config)")
    p.add_argument("--conversations", type=int, help="number of openings; each is simulated under every arm")
    p.add_argument("--arms", nargs="+", metavar="ARM", help="policies to simulate, e.g. no_end_tool end_tool_last_resort")
    p.add_argument("--no-text", action="store_true", help="ground truth only, empty message text (fast)")
    p.add_argument("-o", "--output", required=True, help="output file: .jsonl, or .jsonl.gz (reproducible gzip)")


def run(args: argparse.Namespace) -> int:
    overrides = {"seed": args.seed, "n_conversations": args.conversations,
                 "arms": tuple(args.arms) if args.arms else None}
    if args.config:
        cfg = load_config(args.config, **overrides)
    else:
        cfg = default_config(**{k: v for k, v in overrides.items() if v is not None})
    n = write_jsonl(iter_conversations(cfg, render_text=not args.no_text), args.output)
    print(f"wrote {n} conversations ({cfg.n_conversations} openings x {len(cfg.arms)} arms + new chats) "
          f"to {args.output}", file=sys.stderr)
    return 0
