"""Quick speed check of ``welfare.score`` against VADER on the same real messages.

Loads the HH-RLHF harmless-base test split from ../shared/data (each chosen/rejected pair is one
conversation with two branches), builds the matcher before the clock starts, then times:

* ``welfare.score`` with every registered metric (messages/s over table rows, MB/s of their text);
* the lexicon matcher alone (``Matcher.scan`` over the unique message texts);
* VADER ``polarity_scores`` on every unique message text (the baseline a researcher reaches for first).

Usage::

    .venv/bin/python bench/score_speed.py [--pairs N] [--profile]

The machine is shared and small; run it twice and read the better figure.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "hh_rlhf" / "harmless-base" / "test.jsonl.gz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=0, help="use the first N pairs (default: all)")
    parser.add_argument("--profile", action="store_true", help="print the 20 most expensive functions of score()")
    args = parser.parse_args()

    import welfare
    from welfare.metrics import default_matcher, list_metrics

    t0 = time.perf_counter()
    matcher = default_matcher()
    metrics = list_metrics()
    build = time.perf_counter() - t0
    transcripts = list(welfare.load(DATA, format="hh_rlhf"))
    if args.pairs:
        transcripts = transcripts[: args.pairs]
    unique = list({id(m): m.text for t in transcripts for m in t.messages}.values())
    welfare.score(transcripts[:20])  # warm caches

    t0 = time.perf_counter()
    scores = welfare.score(transcripts)
    t_score = time.perf_counter() - t0
    rows = len(scores.messages)
    row_bytes = sum(len(m.text.encode()) for t in transcripts for b in t.branches() for m in b.messages)

    t0 = time.perf_counter()
    matcher.scan(unique)
    t_scan = time.perf_counter() - t0
    unique_bytes = sum(len(x.encode()) for x in unique)

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    t0 = time.perf_counter()
    for text in unique:
        vader.polarity_scores(text)
    t_vader = time.perf_counter() - t0

    print(f"corpus: {len(transcripts)} conversations, {rows} message rows ({row_bytes / 1e6:.2f} MB), "
          f"{len(unique)} unique messages ({unique_bytes / 1e6:.2f} MB); {len(metrics)} metrics; "
          f"matcher engine {matcher.engine}, {len(matcher.patterns)} phrases, built in {build:.1f} s")
    print(f"{'what':<28}{'seconds':>9}{'messages/s':>13}{'MB/s':>8}")
    for name, secs, n, nbytes in (("welfare.score (all metrics)", t_score, rows, row_bytes),
                                  ("matcher.scan (unique texts)", t_scan, len(unique), unique_bytes),
                                  ("VADER polarity_scores", t_vader, len(unique), unique_bytes)):
        print(f"{name:<28}{secs:>9.2f}{n / secs:>13,.0f}{nbytes / secs / 1e6:>8.2f}")
    print(f"score vs VADER (messages/s): {(rows / t_score) / (len(unique) / t_vader):.2f}x; "
          f"matcher vs VADER: {(len(unique) / t_scan) / (len(unique) / t_vader):.2f}x")
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(welfare.score, transcripts)
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
