"""Shared fixtures. ``shared_data`` points at ../shared/data: missing data skips locally, fails under CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WELFARE_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_shared(*parts: str) -> Path:
    """Path under ../shared/data; skips when absent on a laptop, fails when CI=true."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data missing: {path} (see ../shared/data/README.md)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data() -> Path:
    return require_shared()


@pytest.fixture
def repo_root() -> Path:
    return REPO


def write_goemotions(root: Path, comments: list[tuple[str, str, list[str], list[str]]], original_names: list[str],
                     group_names: list[str], group_ids: list[str] | None = None) -> Path:
    """A GoEmotions folder (``original/`` and ``group/`` views, ``labels.txt`` + ``dev.tsv`` each) under ``root``.

    ``comments``: (id, text, original label names, group label names). ``group_ids`` gives the group view other
    comment ids than the original view (to test the views' consistency checks).
    """
    for view, names, col in (("original", original_names, 2), ("group", group_names, 3)):
        folder = root / view
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
        ids = [c[0] for c in comments] if view == "original" or group_ids is None else group_ids
        lines = [f"{c[1]}\t{','.join(str(names.index(n)) for n in c[col])}\t{i}"
                 for c, i in zip(comments, ids, strict=True)]
        (folder / "dev.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
