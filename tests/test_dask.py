"""welfare.dask: a LocalCluster with two worker processes writes the tables of one process; clear missing-extra error."""

from __future__ import annotations

import builtins
import importlib
from pathlib import Path
from typing import Any

import pytest

from welfare.parallel import score_files
from welfare.score import conversations_path
from welfare.simulate import default_config, simulate, write_jsonl


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dask") / "sim.jsonl"
    write_jsonl(simulate(default_config(n_conversations=25, seed=5)), path)
    return path


@pytest.mark.slow
def test_local_cluster_matches_one_process(tmp_path: Path, corpus: Path) -> None:
    pytest.importorskip("distributed")  # the extra is part of the dev install; the next test covers its absence
    import pandas as pd
    from distributed import Client, LocalCluster

    import welfare.dask as wd

    metrics = ["refusal", "refusal_rate"]
    one = tmp_path / "one.parquet"
    score_files(corpus, one, jobs=1, chunk_bytes=40_000, metrics=metrics)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      memory_limit="1GiB") as cluster, Client(cluster) as client:
        on_dask = tmp_path / "dask.parquet"
        prov = wd.score_dask(str(corpus), on_dask, scheduler=client, chunk_bytes=40_000, metrics=metrics)
        assert on_dask.read_bytes() == one.read_bytes()
        assert conversations_path(on_dask).read_bytes() == conversations_path(one).read_bytes()
        assert prov["rows"] > 0
        # the CLI flag, given the scheduler's address
        from welfare.cli import main

        via_cli = tmp_path / "cli.parquet"
        assert main(["score", str(corpus), "-o", str(via_cli), "--metrics", ",".join(metrics), "--dask",
                     cluster.scheduler_address]) == 0
        assert pd.read_parquet(via_cli).equals(pd.read_parquet(one))
        # a bag of transcripts: same rows as scoring the file (row groups follow the bag's partitions)
        import dask.bag as db

        from welfare import load

        bag = db.from_sequence(list(load(corpus)), npartitions=3)
        from_bag = tmp_path / "bag.parquet"
        wd.score_dask(bag, from_bag, scheduler=client, metrics=metrics)
        pd.testing.assert_frame_equal(pd.read_parquet(from_bag), pd.read_parquet(one))
        pd.testing.assert_frame_equal(pd.read_parquet(conversations_path(from_bag)),
                                      pd.read_parquet(conversations_path(one)))


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, corpus: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import welfare.dask as wd

    real_import = builtins.__import__
    real_import_module = importlib.import_module

    def no_dask(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in {"dask", "distributed"}:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    def no_dask_module(name: str, package: str | None = None) -> Any:
        if name.split(".")[0] in {"dask", "distributed"}:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import_module(name, package)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    monkeypatch.setattr(importlib, "import_module", no_dask_module)
    with pytest.raises(wd.DaskNotInstalledError, match=r"welfare\[dask\]") as info:
        wd.score_dask(str(corpus), tmp_path / "out.parquet")
    assert isinstance(info.value, ImportError)
    assert not (tmp_path / "out.parquet").exists()
    from welfare.cli import main

    assert main(["score", str(corpus), "-o", str(tmp_path / "out.parquet"), "--dask", "tcp://127.0.0.1:1"]) == 2
    assert "welfare[dask]" in capsys.readouterr().err


def test_bad_scheduler_is_a_value_error(tmp_path: Path, corpus: Path) -> None:
    pytest.importorskip("distributed")
    import welfare.dask as wd

    with pytest.raises(ValueError, match="scheduler must be"):
        wd.score_dask(str(corpus), tmp_path / "out.parquet", scheduler=42, metrics=["refusal"])
