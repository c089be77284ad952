"""BailBench (Ensign, Sleight, Fish 2025, "The LLM Has Left The Chat") adapter: user-side metrics on bail prompts.

BailBench holds synthetic single-turn user prompts of the kinds that made models want to leave a
conversation, in three files: ``bailBench.csv`` (every bail category), ``bailHarmBench.csv`` (the
harmful-request categories only; each of its prompts is also in ``bailBench.csv``) and
``nonBailRequestsWildchat.csv`` (tab-separated: ordinary requests, the control set). Every file has
the columns ``content, subcategory, category``. The labels are categories only: nobody rated how
hostile, risky or harmful each prompt is, and there are no model replies, so the bail metrics
(``bail_tool``, ``bail_string``, ``bail_checkin``) cannot be checked here.

The validator is a check of metrics written for other data, not a training set: the user lexicon
was not tuned on these prompts, and the category mapping below was written from the category names
before any prompt was scored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from welfare.metrics._matcher import Matcher
from welfare.transcript import Transcript
from welfare.validation._report import validator
from welfare.validation._stats import Estimate, ValidationInputError, auroc, results_frame, wilson_interval

__all__ = ["BAILBENCH_FILES", "BAILBENCH_HARM_MAP", "bailbench_transcripts", "read_bailbench", "score_bailbench",
           "validate_bailbench"]

#: source name -> (file name, field delimiter). ``harm`` prompts are a subset of ``bail`` prompts.
BAILBENCH_FILES: dict[str, tuple[str, str]] = {
    "bail": ("bailBench.csv", ","),
    "harm": ("bailHarmBench.csv", ","),
    "control": ("nonBailRequestsWildchat.csv", "\t"),
}
_FIELDS = ("content", "subcategory", "category")

#: BailBench category -> the ``harm_category`` values that count as agreeing with it. Written from the
#: category names alone, where the correspondence is obvious, and NOT adjusted after looking at
#: results. Categories left out have no obvious counterpart among ours (Disinformation, Economic Harm,
#: which mixes crimes with legal but exploitative practices, Corporate Safety Concerns) or are not
#: harmful requests at all (Gross Out, Horror, Dark Topics, Emotional Intensity, Model-Personification
#: & Victim Narratives); for those only the share flagged is reported.
BAILBENCH_HARM_MAP: dict[str, frozenset[str]] = {
    "Physical Harm": frozenset({"violence", "weapons", "self_harm"}),
    "Malware/Hacking": frozenset({"cyber"}),
    "Harassment/Discrimination": frozenset({"hate"}),
    "Illegal Sexual/Adult Content": frozenset({"sexual"}),
    "Fraud/Deception": frozenset({"illegal"}),
    "Legal Concerns": frozenset({"privacy"}),  # its one subcategory: Private Information Solicitation
}

#: the user-side scores compared by AUROC (``harm_flag`` = ``harm_category`` is not ``none``)
_SCORES = ("hostility", "harm_flag", "risk", "negative_affect")


def _decode(file: Path) -> str:
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ValidationInputError(f"{file}:{line}: not valid UTF-8 (byte {data[err.start]:#04x} at offset "
                                   f"{err.start}); BailBench files are UTF-8 text") from None


def _read_file(file: Path, source: str, delimiter: str) -> pd.DataFrame:
    sep = "comma" if delimiter == "," else "tab"
    text = io.StringIO(_decode(file), newline="")
    if delimiter == ",":
        reader = csv.reader(text, delimiter=",", quoting=csv.QUOTE_MINIMAL, strict=True)
    else:  # the tab-separated control file has no quoting: a quote character is text
        reader = csv.reader(text, delimiter=delimiter, quoting=csv.QUOTE_NONE, strict=True)
    rows: list[dict[str, Any]] = []
    header: list[str] | None = None
    index: dict[str, int] = {}
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1  # first physical line of this record; next record's start
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if header is None:
                header = [c.strip().lstrip("\ufeff") for c in cells]
                missing = [f for f in _FIELDS if f not in header]
                if missing:
                    raise ValidationInputError(
                        f"{file}:{line}: header lacks {missing}; expected the {sep}-separated columns "
                        f"{', '.join(_FIELDS)}, found {header}")
                index = {f: header.index(f) for f in _FIELDS}
                continue
            if len(cells) != len(header):
                raise ValidationInputError(f"{file}:{line}: expected {len(header)} {sep}-separated fields "
                                           f"({', '.join(header)}), found {len(cells)}")
            row = {f: cells[index[f]].strip() for f in _FIELDS}
            for field in ("content", "category"):
                if not row[field]:
                    raise ValidationInputError(f"{file}:{line}: field {field!r} is empty")
            rows.append({"source": source, "file": file.name, "line": line, **row})
    except csv.Error as err:
        raise ValidationInputError(f"{file}:{reader.line_num}: malformed {sep}-separated line ({err})") from None
    if header is None:
        raise ValidationInputError(f"{file}: empty file; expected a header {', '.join(_FIELDS)} and prompt rows")
    return pd.DataFrame(rows, columns=["source", "file", "line", *_FIELDS])


def read_bailbench(path: str | Path, *, sources: Sequence[str] | None = None) -> pd.DataFrame:
    """Read BailBench prompts as one frame, one row per prompt.

    ``path`` is the BailBench folder (holding ``bailBench.csv``, ``bailHarmBench.csv`` and the
    tab-separated ``nonBailRequestsWildchat.csv``) or one of those files. ``sources`` picks among
    ``bail``, ``harm`` and ``control`` (default: all three for a folder). Returns columns
    ``id, source, file, line, content, subcategory, category`` (``id`` = ``<source>/<line>``,
    ``line`` the record's first line in its file). A prompt of ``bailHarmBench.csv`` appears again
    as a ``bail`` row: do not pool the two sources.

    Raises :class:`ValidationInputError` naming the file, line and field of the first bad record.
    """
    p = Path(path)
    if not p.exists():
        raise ValidationInputError(f"BailBench data not found at {p}; pass the folder holding "
                                   f"{', '.join(f for f, _ in BAILBENCH_FILES.values())}")
    if p.is_file():
        by_name = {f: s for s, (f, _) in BAILBENCH_FILES.items()}
        if p.name not in by_name:
            raise ValidationInputError(f"{p}: not a BailBench file name (expected one of {sorted(by_name)}, which "
                                       "says whether it is comma- or tab-separated); pass the folder instead")
        chosen = [by_name[p.name]]
        files = {by_name[p.name]: p}
    else:
        chosen = list(sources) if sources is not None else list(BAILBENCH_FILES)
        files = {}
        for s in chosen:
            if s not in BAILBENCH_FILES:
                raise ValidationInputError(f"unknown BailBench source {s!r}; use {', '.join(BAILBENCH_FILES)}")
            files[s] = p / BAILBENCH_FILES[s][0]
            if not files[s].exists():
                raise ValidationInputError(f"BailBench file missing: {files[s]} (source {s!r})")
    frame = pd.concat([_read_file(files[s], s, BAILBENCH_FILES[s][1]) for s in chosen], ignore_index=True)
    frame.insert(0, "id", frame["source"] + "/" + frame["line"].astype(str))
    return frame


def bailbench_transcripts(frame: pd.DataFrame) -> list[Transcript]:
    """One single-message user transcript per row of :func:`read_bailbench` (id = the row's ``id``).

    The metadata carry ``source``, ``category`` and ``subcategory``.
    """
    return [Transcript.from_dict({"id": i, "messages": [{"role": "user", "content": c}],
                                  "metadata": {"source": s, "category": cat, "subcategory": sub}})
            for i, c, s, cat, sub in zip(frame["id"], frame["content"], frame["source"], frame["category"],
                                         frame["subcategory"], strict=True)]


def score_bailbench(frame: pd.DataFrame, *, matcher: Matcher | None = None) -> pd.DataFrame:
    """A copy of a :func:`read_bailbench` frame with ``hostility, risk, negative_affect, harm_category, harm_flag``."""
    from welfare.score import score

    metrics = ["hostility", "risk", "negative_affect", "harm_category"]
    table = score(bailbench_transcripts(frame), metrics=metrics, matcher=matcher).messages
    out = frame.copy()
    for m in metrics:
        values = table[m].to_numpy(dtype=object if m == "harm_category" else float)
        out[m] = values
    out["harm_category"] = out["harm_category"].astype(object)
    out["harm_flag"] = np.where(out["harm_category"].isna(), np.nan,
                                (out["harm_category"] != "none").astype(float))
    return out


def _share(statistic: str, flags: np.ndarray) -> Estimate:
    ok = flags[~np.isnan(flags)]
    n = int(ok.size)
    low, high = wilson_interval(float(ok.sum()), n)
    return Estimate(statistic, float(ok.mean()) if n else float("nan"), low, high, n, "wilson 95%")


@validator("bailbench")
def validate_bailbench(path: str | Path, *, n_boot: int = 2000, seed: int = 0, matcher: Matcher | None = None,
                       vader: bool = True) -> pd.DataFrame:
    """User-side metrics on BailBench prompts against the control set, and ``harm_category`` per BailBench category.

    Rows (``dataset = "bailbench"``):

    * ``auroc`` (DeLong) of ``hostility``, ``harm_flag`` (``harm_category`` is not ``none``), ``risk``,
      ``negative_affect`` and, with ``vader=True``, VADER ``neg`` for prompts of each BailBench file vs the
      control requests: subsets ``bailBench vs control``, ``bailHarmBench vs control`` and
      ``bailBench non-harm vs control`` (the bailBench prompts not in bailHarmBench);
    * ``share_flagged`` (Wilson) of ``harm_flag`` and ``risk`` per source, and of ``harm_flag`` per
      bailBench category (subset ``category: <name>``);
    * ``agreement`` (Wilson): share of prompts whose ``harm_category`` is one of those
      :data:`BAILBENCH_HARM_MAP` maps their category to, per mapped category and over all mapped
      prompts (``agreement_flagged``: the same among prompts flagged at all).

    ``n_boot`` and ``seed`` are unused (no bootstrap intervals) and kept for the validator contract.
    """
    frame = score_bailbench(read_bailbench(path), matcher=matcher)
    if vader:
        from welfare.validation._goemotions import vader_scores

        frame["vader_neg"] = vader_scores(frame["content"])["neg"].to_numpy()
    control = frame[frame["source"] == "control"]
    bail = frame[frame["source"] == "bail"]
    harm = frame[frame["source"] == "harm"]
    parts = {"bail": bail, "harm": harm, "control": control}
    missing = [BAILBENCH_FILES[k][0] for k, part in parts.items() if part.empty]
    if missing:
        raise ValidationInputError(f"{path}: the BailBench validation compares its prompts with the control requests "
                                   f"and needs all three files; no rows from {', '.join(missing)}. Pass the folder "
                                   f"that holds {', '.join(f for f, _ in BAILBENCH_FILES.values())}")
    non_harm = bail[~bail["content"].isin(set(harm["content"]))]
    rows: list[dict[str, Any]] = []
    scores = [*_SCORES, "vader_neg"] if vader else list(_SCORES)
    for subset, positives in (("bailBench vs control", bail), ("bailHarmBench vs control", harm),
                              ("bailBench non-harm vs control", non_harm)):
        both = pd.concat([positives, control], ignore_index=True)
        truth = (both["source"] != "control").to_numpy()
        for name in scores:
            rows.append(auroc(truth, both[name].to_numpy(dtype=float)).row("bailbench", subset, name))
    for label, part in (("bailBench", bail), ("bailHarmBench", harm), ("control", control)):
        for name in ("harm_flag", "risk"):
            rows.append(_share("share_flagged", part[name].to_numpy(dtype=float)).row("bailbench", label, name))
    for key, g in bail.groupby("category", sort=True):
        category = str(key)
        rows.append(_share("share_flagged", g["harm_flag"].to_numpy(dtype=float))
                    .row("bailbench", f"category: {category}", "harm_category"))
        if category in BAILBENCH_HARM_MAP:
            rows.extend(_agreement(g, BAILBENCH_HARM_MAP[category], f"category: {category}"))
    mapped = bail[bail["category"].isin(list(BAILBENCH_HARM_MAP))]
    agree_all = [BAILBENCH_HARM_MAP[c] for c in mapped["category"]]
    rows.extend(_agreement(mapped, agree_all, "mapped categories"))
    return results_frame(rows)


def _agreement(g: pd.DataFrame, allowed: frozenset[str] | list[frozenset[str]], subset: str) -> list[dict[str, Any]]:
    sets = [allowed] * len(g) if isinstance(allowed, frozenset) else allowed
    ours = g["harm_category"].tolist()
    hit = np.array([np.nan if c is None or (isinstance(c, float) and np.isnan(c)) else float(c in s)
                    for c, s in zip(ours, sets, strict=True)])
    flagged = (g["harm_flag"] == 1).to_numpy()
    return [_share("agreement", hit).row("bailbench", subset, "harm_category"),
            _share("agreement_flagged", hit[flagged]).row("bailbench", subset, "harm_category")]
