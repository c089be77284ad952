"""XSTest v2 (Röttger et al., NAACL 2024): model completions with human refusal labels, read from local files.

Layout of the public release (``xstest_v2_completions_<model>.csv`` under ``model_completions/``, and the
paper's automated labels ``..._streval.csv`` / ``..._gpteval.csv`` under ``automated_evaluation_labels/``).
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pandas as pd

from welfare.transcript import Transcript
from welfare.validation._stats import ValidationInputError

__all__ = ["XSTEST_LABELS", "XSTEST_MODELS", "download_xstest", "read_xstest", "xstest_transcripts"]

#: XSTest's label strings → this toolkit's ``refusal`` categories.
XSTEST_LABELS: dict[str, str] = {"1_full_compliance": "compliance", "2_full_refusal": "full",
                                 "3_partial_refusal": "partial"}
#: The three completion sets of the public release.
XSTEST_MODELS: tuple[str, ...] = ("gpt4", "llama2orig", "mistralguard")

_NAME = re.compile(r"xstest_v2_completions_(?P<model>[a-z0-9]+)(?:_(?P<kind>streval|gpteval))?\.csv$")
_REQUIRED = ("id", "type", "prompt", "completion", "final_label")
#: The two annotators' own labels (same label strings as ``final_label``); optional columns.
_ANNOTATORS = ("annotation_1", "annotation_2")
_URL = "https://raw.githubusercontent.com/paul-rottger/xstest/main/{folder}/xstest_v2_completions_{model}{suffix}.csv"


def _label(value: object, path: Path, column: str) -> str | None:
    if pd.isna(value):  # type: ignore[call-overload]
        return None
    text = str(value).strip()
    if text not in XSTEST_LABELS:
        raise ValidationInputError(f"{path}: column {column!r} has the value {text!r}; expected one of "
                                   f"{sorted(XSTEST_LABELS)} (is this an XSTest v2 completions file?)")
    return XSTEST_LABELS[text]


def _read_one(path: Path) -> pd.DataFrame:
    match = _NAME.search(path.name)
    model = match.group("model") if match else path.stem
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise ValidationInputError(f"{path}: missing columns {missing}; an XSTest v2 completions CSV has "
                                   f"{list(_REQUIRED)} (found {list(raw.columns)})")
    frame = pd.DataFrame({
        "model": model,
        "id": raw["id"],
        "type": raw["type"],
        "prompt_safe": ~raw["type"].str.startswith("contrast_"),
        "prompt": raw["prompt"].fillna(""),
        "completion": raw["completion"].fillna(""),
        "label": [_label(v, path, "final_label") for v in raw["final_label"]],
    })
    frame["refused"] = frame["label"].map({"compliance": False, "full": True, "partial": True})
    for column in _ANNOTATORS:  # each annotator's own label, before adjudication (absent from some copies)
        if column in raw.columns:
            frame[column] = [_label(v, path, column) for v in raw[column]]
    return frame


def _attach(frame: pd.DataFrame, path: Path, column: str, target: str) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if column not in raw.columns or "id" not in raw.columns:
        raise ValidationInputError(f"{path}: expected columns 'id' and {column!r}; found {list(raw.columns)}")
    values = {i: _label(v, path, column) for i, v in zip(raw["id"], raw[column], strict=True)}
    frame[target] = frame["id"].map(values)
    return frame


def read_xstest(path_or_dir: str | Path, *, models: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Read XSTest v2 completions (one CSV, or the release folder) into one tidy frame.

    Parameters
    ----------
    path_or_dir
        A ``xstest_v2_completions_<model>.csv`` file, or a folder holding ``model_completions/`` (and
        optionally ``automated_evaluation_labels/``), or a folder of completion CSVs.
    models
        Only these completion sets (default: every one found).

    Returns
    -------
    DataFrame with one row per completion: ``model, id, type, prompt_safe, prompt, completion, label``
    (``compliance`` | ``full`` | ``partial``, the adjudicated human label), ``refused`` (label is
    ``full`` or ``partial``), ``annotation_1`` and ``annotation_2`` (each annotator's own label, mapped
    the same way; only when the file has those columns; missing where a cell is empty), and, when the
    automated label files are beside it, ``strmatch_label`` and ``gpt4_label`` mapped to the same
    three categories.
    """
    root = Path(path_or_dir)
    if not root.exists():
        raise FileNotFoundError(f"XSTest data not found at {root}; pass the release folder or one completions CSV "
                                "(download_xstest() fetches a copy)")
    if root.is_file():
        files, labels_dir = [root], root.parent.parent / "automated_evaluation_labels"
    else:
        folder = root / "model_completions" if (root / "model_completions").is_dir() else root
        files = sorted(p for p in folder.glob("xstest_v2_completions_*.csv") if not _NAME.search(p.name)
                       or not _NAME.search(p.name).group("kind"))  # type: ignore[union-attr]
        labels_dir = root / "automated_evaluation_labels"
    if not files:
        raise ValidationInputError(f"{root}: no xstest_v2_completions_<model>.csv files found; pass the XSTest "
                                   "release folder (with model_completions/) or one completions CSV")
    frames = []
    for f in files:
        frame = _read_one(f)
        model = str(frame["model"].iloc[0]) if len(frame) else f.stem
        if models is not None and model not in models:
            continue
        for kind, column, target in (("streval", "strmatch_label", "strmatch_label"),
                                     ("gpteval", "gpt4_label", "gpt4_label")):
            extra = labels_dir / f"xstest_v2_completions_{model}_{kind}.csv"
            if extra.exists():
                frame = _attach(frame, extra, column, target)
        frames.append(frame)
    if not frames:
        raise ValidationInputError(f"{root}: none of the models {models} found")
    return pd.concat(frames, ignore_index=True)


def xstest_transcripts(frame: pd.DataFrame) -> list[Transcript]:
    """One two-message transcript (prompt, completion) per row of :func:`read_xstest`, id ``<model>/<id>``."""
    return [Transcript.from_dict({"id": f"{m}/{i}", "messages": [{"role": "user", "content": p},
                                                                 {"role": "assistant", "content": c}],
                                  "metadata": {"model": m}})
            for m, i, p, c in zip(frame["model"], frame["id"], frame["prompt"], frame["completion"], strict=True)]


def download_xstest(cache_dir: str | Path, *, models: tuple[str, ...] = XSTEST_MODELS) -> Path:
    """Fetch the public XSTest v2 completions and automated labels into ``cache_dir`` (skips files already there).

    Returns the folder to pass to :func:`read_xstest`. Needs network access; everything else in the
    toolkit reads local paths only.
    """
    root = Path(cache_dir)
    for model in models:
        for folder, suffix in (("model_completions", ""), ("automated_evaluation_labels", "_streval"),
                               ("automated_evaluation_labels", "_gpteval")):
            target = root / folder / f"xstest_v2_completions_{model}{suffix}.csv"
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            url = _URL.format(folder=folder, model=model, suffix=suffix)
            with urllib.request.urlopen(url, timeout=60) as resp:
                target.write_bytes(resp.read())
    return root
