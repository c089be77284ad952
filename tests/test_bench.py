"""The throughput benchmark's baselines run and agree on what they counted (bench/ is not a package)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def throughput():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_throughput", REPO / "bench" / "throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "corpus.jsonl"
    with gzip.open(REPO / "data" / "sample" / "simulated.jsonl.gz", "rb") as src, open(path, "wb") as dst:
        for k, line in enumerate(src):
            if k == 60:
                break
            dst.write(line)
    return path


def test_lexicon_ceiling_counts_the_same_messages_as_parse_only(throughput, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from welfare.metrics._matcher import default_matcher

    parse = throughput.parse_only(corpus)
    ceiling = throughput.lexicon_ceiling(corpus)
    assert parse["conversations"] == 60
    assert ceiling["messages"] == parse["messages"] > 60
    assert ceiling["parse_and_counts_messages_per_cpu_s"] > 0
    if default_matcher().engine == "hyperscan":
        texts = [t for chunk, _ in throughput._text_chunks(corpus) for t in chunk]
        counted = int((default_matcher().scan(texts).status == 0).sum())
        # the engine reports every literal hit; the matcher keeps a subset (boundaries, longest match, rules)
        assert ceiling["engine_hits"] >= counted > 0
        assert ceiling["literals"] == len(default_matcher()._literals)


def test_text_chunks_cut_by_conversation_and_keep_every_message(throughput, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    chunks = list(throughput._text_chunks(corpus, conversations=25))
    assert [len(sizes) for _, sizes in chunks] == [25, 25, 10]
    assert all(len(texts) == sum(sizes) for texts, sizes in chunks)
