"""Throughput benchmark: VADER, parse-only, and the full metric suite on 1 and N processes, in one run.

Builds a canonical JSONL corpus of a chosen size from the simulator (a pool of simulated
conversations replicated under new ids; ground-truth metadata is dropped so the lines look like
real logs), then measures on the same file:

* VADER ``SentimentIntensityAnalyzer().polarity_scores`` per message, on a sample (messages/s);
* parse only: msgspec decode of every line (MB/s, messages/s);
* ours: ``welfare.parallel.score_files`` with every registered metric, both tables written as
  Parquet, on 1 process and on ``--jobs`` processes, each run in a fresh child process so its peak
  memory is its own: the peak of the summed PSS (proportional set size: pages shared by forked
  workers counted once) of the run and its workers, sampled every 0.5 s, next to ``ru_maxrss``;
  the matcher is built before the clock starts and its build time is reported separately;

and prints one table plus a JSON record (``--json PATH`` to keep it). Ratios: ours (1 process)
to VADER in messages/s, ours to parse-only in MB/s, and 1-process time over N-process time.

Usage::

    .venv/bin/python bench/throughput.py --megabytes 200
    .venv/bin/python bench/throughput.py --conversations 1000000 --skip-single --skip-vader
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

REPO = Path(__file__).resolve().parents[1]
POOL_SEED = 20260
POOL_SIZE = 1500  # simulated openings; each is continued under every arm (about 2.2 conversations each)


# --------------------------------------------------------------------------------------------------
# corpus


def _strip_truth(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    meta.pop("truth", None)
    for m in obj.get("messages", []):
        mm = m.get("metadata")
        if isinstance(mm, dict):
            mm.pop("truth", None)
            if not mm:
                m.pop("metadata")
    return obj


def build_corpus(path: Path, *, conversations: int | None, megabytes: float | None, seed: int = POOL_SEED) -> dict[str, Any]:
    """Write ``conversations`` lines (or about ``megabytes`` MB) of canonical JSONL; returns what was written."""
    from welfare.simulate import default_config, iter_conversations

    encoder = msgspec.json.Encoder()
    templates: list[tuple[bytes, bytes, str]] = []
    for t in iter_conversations(default_config(n_conversations=POOL_SIZE, seed=seed)):
        obj = _strip_truth({"schema_version": "1.0", **t.to_dict()})
        cid = obj.pop("id")
        head = b'{"schema_version":"1.0","id":'
        rest = encoder.encode({k: v for k, v in obj.items() if k != "schema_version"})
        templates.append((head, b"," + rest[1:], cid))
    rng = random.Random(seed)
    order = list(range(len(templates)))
    target_bytes = None if megabytes is None else int(megabytes * 1e6)
    written = n = 0
    with open(path, "wb") as fh:
        replica = 0
        while True:
            rng.shuffle(order)
            for k in order:
                head, tail, cid = templates[k]
                line = head + encoder.encode(f"{cid}~r{replica}") + tail + b"\n"
                fh.write(line)
                written += len(line)
                n += 1
                if (conversations is not None and n >= conversations) or \
                        (target_bytes is not None and written >= target_bytes):
                    return {"path": str(path), "conversations": n, "bytes": written, "pool": len(templates)}
            replica += 1


# --------------------------------------------------------------------------------------------------
# baselines


def parse_only(path: Path) -> dict[str, Any]:
    """msgspec decode of every line; counts messages (the denominator of every messages/s figure)."""
    decode = msgspec.json.decode
    n_messages = n_lines = 0
    start, cpu0 = time.perf_counter(), time.process_time()
    with open(path, "rb") as fh:
        for line in fh:
            obj = decode(line)
            n_messages += len(obj["messages"])
            n_lines += 1
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    return {"seconds": seconds, "cpu_seconds": cpu, "messages": n_messages, "conversations": n_lines}


def _text_chunks(path: Path, conversations: int = 2000) -> Iterator[tuple[list[str], list[int]]]:
    """(message texts, messages per conversation) for every ``conversations`` lines of the corpus."""
    from welfare.transcript import Message

    decode = msgspec.json.decode
    texts: list[str] = []
    sizes: list[int] = []
    with open(path, "rb") as fh:
        for line in fh:
            msgs = decode(line)["messages"]
            texts.extend(m["content"] if m.get("content").__class__ is str else Message.from_dict(m).text
                         for m in msgs)
            sizes.append(len(msgs))
            if len(sizes) == conversations:
                yield texts, sizes
                texts, sizes = [], []
    if sizes:
        yield texts, sizes


def lexicon_ceiling(path: Path) -> dict[str, Any]:
    """Upper bounds for any metric suite built on the shipped lexicons, in one process.

    ``parse_and_counts``: decode every line, take the message texts, run the matcher (every lexicon, with
    the negation, code and quotation rules) and sum the counts per conversation; no other metric, no
    tables. ``engine_only``: the same texts joined per chunk and lower-cased, given to the hyperscan
    databases with a callback that only counts hits (what the engine and its Python binding cost alone).
    Texts are gathered outside the timed part of ``engine_only``.
    """
    from welfare.metrics._matcher import SEPARATOR, default_matcher, normalize

    m = default_matcher()
    n_messages = 0
    cpu0 = time.process_time()
    for texts, sizes in _text_chunks(path):
        counts, _ = m.counts(texts)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        np.add.reduceat(counts, starts, axis=0)
        n_messages += len(texts)
    counts_cpu = time.process_time() - cpu0
    out: dict[str, Any] = {"messages": n_messages, "parse_and_counts_cpu_seconds": counts_cpu,
                           "parse_and_counts_messages_per_cpu_s": n_messages / counts_cpu}
    if m.engine == "hyperscan":
        hits = 0

        def on_hit(*_: object) -> None:
            nonlocal hits
            hits += 1

        engine_cpu = 0.0
        for texts, _sizes in _text_chunks(path):
            cpu0 = time.process_time()
            data = normalize(SEPARATOR.join(texts)).encode("utf-8")
            for db in m._hs_dbs:
                db.scan(data, match_event_handler=on_hit)
            engine_cpu += time.process_time() - cpu0
        out.update({"engine_only_cpu_seconds": engine_cpu, "engine_only_messages_per_cpu_s": n_messages / engine_cpu,
                    "engine_hits": hits, "literals": len(m._literals)})
    return out


def sample_texts(path: Path, n: int, seed: int = 1) -> list[str]:
    """``n`` message texts (every role) from the start of the corpus, shuffled."""
    from welfare.transcript import Message

    texts: list[str] = []
    with open(path, "rb") as fh:
        for line in fh:
            for m in msgspec.json.decode(line)["messages"]:
                texts.append(Message.from_dict(m).text)
            if len(texts) >= 4 * n:
                break
    random.Random(seed).shuffle(texts)
    return texts[:n]


def vader(texts: list[str]) -> dict[str, Any]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    start, cpu0 = time.perf_counter(), time.process_time()
    for text in texts:
        analyzer.polarity_scores(text)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    return {"seconds": seconds, "cpu_seconds": cpu, "messages": len(texts), "messages_per_s": len(texts) / seconds,
            "messages_per_cpu_s": len(texts) / cpu,
            "mb_per_s": sum(len(t.encode("utf-8")) for t in texts) / 1e6 / seconds}


# --------------------------------------------------------------------------------------------------
# ours, in a fresh child process


def _pss_kb(pid: int) -> int:
    """Proportional set size of a process (shared pages split among sharers), from /proc; 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


class MemorySampler(threading.Thread):
    """Samples the summed PSS of this process and its children (the pool workers) every ``interval`` s."""

    def __init__(self, interval: float = 0.5, rescan_every: int = 20) -> None:
        super().__init__(daemon=True)
        self.interval, self.rescan_every, self.peak_kb = interval, rescan_every, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        kids: list[int] = []
        tick = 0
        while not self._stop_event.is_set():
            if tick % self.rescan_every == 0 or not kids:  # listing /proc is the costly part: do it rarely
                kids = _children(me)
            tick += 1
            total = _pss_kb(me) + sum(_pss_kb(c) for c in kids)
            self.peak_kb = max(self.peak_kb, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_kb / 1024


def child(corpus: str, out: str, jobs: int, chunk_bytes: int) -> None:
    """Run one scoring in this (fresh) process and print a JSON record on stdout."""
    from welfare.parallel import _warm, score_files

    start = time.perf_counter()
    _warm(None)
    warm = time.perf_counter() - start
    after_warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    self0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = MemorySampler()
    sampler.start()
    start = time.perf_counter()
    prov = score_files(corpus, out, jobs=jobs, chunk_bytes=chunk_bytes or None, hash_inputs=True)
    seconds = time.perf_counter() - start
    peak_pss = sampler.stop()
    self1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_self = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    cpu_workers = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    record = {
        "jobs": jobs, "seconds": seconds, "warm_seconds": warm, "cpu_seconds_self": cpu_self,
        "cpu_seconds_workers": cpu_workers, "rows": prov["rows"], "branches": prov["branches"],
        "matcher_engine": prov.get("matcher_engine"), "n_metrics": len(prov.get("metrics", {})),
        "maxrss_mb_after_warm": after_warm / 1024,
        "peak_pss_mb_all_processes": peak_pss,
        "maxrss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "maxrss_mb_workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "out_bytes": os.path.getsize(out) + os.path.getsize(prov["outputs"]["conversations"]),
    }
    print(json.dumps(record))


def profile(corpus: Path, out: Path, megabytes: float, top: int = 25) -> str:
    """cProfile (CPU time) of one-process scoring of the first ``megabytes`` MB of the corpus: where time goes."""
    import cProfile
    import io
    import pstats

    from welfare.parallel import _warm, score_files

    head = out.with_name("profile-corpus.jsonl")
    with open(corpus, "rb") as src, open(head, "wb") as dst:
        for line in src:
            dst.write(line)
            if dst.tell() >= megabytes * 1e6:
                break
    _warm(None)
    prof = cProfile.Profile(time.process_time)
    prof.runcall(score_files, head, out, jobs=1, hash_inputs=False)
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    head.unlink()
    return text.getvalue()


def run_child(corpus: Path, out: Path, jobs: int, chunk_bytes: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(corpus), str(out), str(jobs), str(chunk_bytes)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child (jobs={jobs}) failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--megabytes", type=float, help="corpus size in MB (default 100)")
    size.add_argument("--conversations", type=int, help="corpus size in conversations (e.g. 1000000)")
    parser.add_argument("--jobs", type=int, default=2, help="processes of the parallel run (default 2)")
    parser.add_argument("--chunk-bytes", type=int, default=0,
                        help="byte range per unit of work (default: welfare.parallel.auto_chunk_bytes)")
    parser.add_argument("--vader-sample", type=int, default=5000, help="messages VADER scores (default 5000)")
    parser.add_argument("--skip-single", action="store_true", help="skip the 1-process run (huge corpora)")
    parser.add_argument("--skip-vader", action="store_true")
    parser.add_argument("--workdir", type=Path, help="where the corpus and outputs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the corpus and outputs")
    parser.add_argument("--json", type=Path, help="also write the JSON record here")
    parser.add_argument("--profile", type=float, metavar="MB",
                        help="also print a CPU profile of one-process scoring of the corpus's first MB megabytes")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        corpus, out, jobs, chunk = args.child
        child(corpus, out, int(jobs), int(chunk))
        return 0

    megabytes = args.megabytes if (args.megabytes or args.conversations) else 100.0
    work = Path(args.workdir or tempfile.mkdtemp(prefix="welfare-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus.jsonl"
    t0 = time.perf_counter()
    built = build_corpus(corpus, conversations=args.conversations, megabytes=megabytes)
    built["seconds"] = time.perf_counter() - t0
    mb = built["bytes"] / 1e6
    print(f"corpus: {built['conversations']} conversations, {mb:.1f} MB ({built['seconds']:.1f} s to build)",
          flush=True)

    record: dict[str, Any] = {"corpus": built, "python": platform.python_version(), "machine": platform.machine(),
                              "cpus": os.cpu_count(), "command": " ".join([Path(sys.executable).name, *sys.argv])}
    parse = parse_only(corpus)
    n_messages = parse["messages"]
    parse["mb_per_s"] = mb / parse["seconds"]
    parse["messages_per_s"] = n_messages / parse["seconds"]
    record["parse_only"] = parse
    print(f"parse only: {parse['mb_per_s']:.1f} MB/s, {parse['messages_per_s']:.0f} messages/s", flush=True)
    if not args.skip_vader:
        record["vader"] = vader(sample_texts(corpus, args.vader_sample))
        print(f"VADER: {record['vader']['messages_per_s']:.0f} messages/s on {args.vader_sample} messages", flush=True)
    if not args.skip_single:
        ceiling = record["lexicon_ceiling"] = lexicon_ceiling(corpus)
        print(f"lexicon ceiling: parse + lexicon counts {ceiling['parse_and_counts_messages_per_cpu_s']:.0f} "
              f"messages per CPU-second; hyperscan engine alone "
              f"{ceiling.get('engine_only_messages_per_cpu_s', float('nan')):.0f} "
              f"({ceiling.get('engine_hits', 0)} hits, {ceiling.get('literals', 0)} literals)", flush=True)

    runs = ([] if args.skip_single else [1]) + [args.jobs]
    for jobs in runs:
        res = run_child(corpus, work / f"scores-{jobs}.parquet", jobs, args.chunk_bytes)
        res["mb_per_s"] = mb / res["seconds"]
        res["messages_per_s"] = n_messages / res["seconds"]
        res["messages_per_cpu_s"] = n_messages / (res["cpu_seconds_self"] + res["cpu_seconds_workers"])
        res["rss_bound_mb_all_processes"] = (res["maxrss_mb_self"]
                                             + (jobs if jobs > 1 else 0) * res["maxrss_mb_workers"])
        record[f"ours_{jobs}"] = res
        print(f"ours, {jobs} process(es): {res['seconds']:.1f} s, {res['mb_per_s']:.2f} MB/s, "
              f"{res['messages_per_s']:.0f} messages/s ({res['messages_per_cpu_s']:.0f} per CPU-second), peak RSS parent {res['maxrss_mb_self']:.0f} MB, "
              f"largest worker {res['maxrss_mb_workers']:.0f} MB, peak PSS of all processes "
              f"{res['peak_pss_mb_all_processes']:.0f} MB (matcher build {res['warm_seconds']:.1f} s)",
              flush=True)

    if len(runs) == 2:
        same = all((work / f"scores-{j}.parquet").read_bytes() == (work / f"scores-{runs[0]}.parquet").read_bytes()
                   for j in runs[1:])
        record["tables_identical_across_jobs"] = same
        print(f"message tables of {runs[0]} and {runs[1]} processes byte-identical: {same}", flush=True)
    if args.profile:
        print(profile(corpus, work / "profile.parquet", args.profile), flush=True)

    summary: dict[str, Any] = {}
    if "ours_1" in record:
        one = record["ours_1"]
        if "vader" in record:
            summary["ours_over_vader_messages_per_s"] = one["messages_per_s"] / record["vader"]["messages_per_s"]
            summary["ours_over_vader_messages_per_cpu_s"] = (one["messages_per_cpu_s"]
                                                             / record["vader"]["messages_per_cpu_s"])
        if "vader" in record and "lexicon_ceiling" in record:
            vader_rate = record["vader"]["messages_per_cpu_s"]
            ceiling = record["lexicon_ceiling"]
            summary["parse_and_counts_over_vader_per_cpu_s"] = (ceiling["parse_and_counts_messages_per_cpu_s"]
                                                                / vader_rate)
            if "engine_only_messages_per_cpu_s" in ceiling:
                summary["engine_only_over_vader_per_cpu_s"] = ceiling["engine_only_messages_per_cpu_s"] / vader_rate
        summary["ours_over_parse_only"] = one["mb_per_s"] / parse["mb_per_s"]
        summary["ours_over_parse_only_per_cpu_s"] = one["messages_per_cpu_s"] / (n_messages / parse["cpu_seconds"])
        if args.jobs != 1:
            summary[f"speedup_{args.jobs}_processes"] = one["seconds"] / record[f"ours_{args.jobs}"]["seconds"]
    summary["peak_pss_mb_all_processes"] = max(record[f"ours_{j}"]["peak_pss_mb_all_processes"] for j in runs)
    record["summary"] = summary
    print("summary: " + ", ".join(f"{k} = {v:.3g}" for k, v in summary.items()))
    print(json.dumps(record, indent=2))
    if args.json:
        args.json.write_text(json.dumps(record, indent=2), encoding="utf-8")
    if not args.keep and args.workdir is None:
        for f in work.iterdir():
            f.unlink()
        work.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
