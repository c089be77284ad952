"""A safe, self-contained HTML view of one conversation: every branch, evidence spans highlighted
by metric family, endings and bail events marked.

Logs are untrusted: all text from a transcript (messages, ids, metadata, tool calls, thinking) is
escaped with :func:`welfare.report._html.esc`; element ids, anchors and class names are made
from counters and fixed words, never from data; the page has no script at all and a strict
Content-Security-Policy. Branch navigation uses anchors and ``<details>``, so it works with
JavaScript disabled.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from welfare.report._html import esc, page
from welfare.transcript import Branch, Message, Transcript

__all__ = ["ViewerInputError", "render_transcript_html", "write_transcript_html"]

#: Highlight colours (Okabe–Ito, light tints so text stays readable); slot i goes to the i-th family by name.
_SLOT_COLOURS: tuple[tuple[str, str], ...] = (
    ("#F7D9A6", "#E69F00"), ("#CDE8F8", "#56B4E9"), ("#B3E2D1", "#009E73"), ("#FAF5B8", "#C9BC00"),
    ("#B3D0E8", "#0072B2"), ("#F2C6A8", "#D55E00"), ("#EFD3E3", "#CC79A7"), ("#DDDDDD", "#000000"),
)
_N_SLOTS = len(_SLOT_COLOURS)

#: Message-table columns shown as badges under a message when ``scores`` is given (if present).
_BADGE_COLUMNS: tuple[str, ...] = ("refusal", "refusal_score", "distress", "negative_affect", "hostility")

VIEWER_CSS = (
    ".wv-root{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:14px;line-height:1.45;"
    "color:#1a1a1a;max-width:60em}"
    ".wv-root h1{font-size:1.3em;margin:.2em 0;overflow-wrap:anywhere}.wv-root h2{font-size:1.1em}"
    ".wv-meta{border-collapse:collapse;margin:.5em 0;table-layout:fixed;width:100%}"
    ".wv-meta td,.wv-meta th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top;"
    "overflow-wrap:anywhere}.wv-meta th{width:12em}"
    ".wv-legend{margin:.5em 0;padding:.4em;border:1px solid #ccc}.wv-legend span{margin-right:1em}"
    ".wv-nav a{margin-right:1em}"
    ".wv-branch{border:1px solid #bbb;border-radius:4px;margin:.6em 0;padding:.3em .6em}"
    ".wv-branch>summary{cursor:pointer;font-weight:600}"
    ".wv-msg{border-left:4px solid #999;margin:.5em 0;padding:.3em .6em;background:#fafafa}"
    ".wv-role-user{border-left-color:#0072B2}.wv-role-assistant{border-left-color:#E69F00}"
    ".wv-role-system{border-left-color:#777}.wv-role-tool{border-left-color:#009E73}"
    ".wv-head{font-size:.85em;color:#444}.wv-text{white-space:pre-wrap;overflow-wrap:anywhere}"
    ".wv-shared{opacity:.75}"
    ".wv-tool,.wv-thinking{font-family:monospace;font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}"
    ".wv-badges{font-size:.8em;color:#333}.wv-badge{display:inline-block;border:1px solid #bbb;"
    "border-radius:3px;padding:0 4px;margin:2px 4px 0 0}"
    ".wv-ending{border:2px solid #D55E00;background:#fff3ec}"
    ".wv-end-banner{font-weight:600;color:#A33F00;margin:.2em 0}"
    ".wv-hl{border-radius:2px;padding:0 1px}"
    ".wv-uncounted{background:transparent;border-bottom:2px dashed #888}"
    ".wv-swatch{display:inline-block;width:1em;height:1em;vertical-align:middle;margin-right:.3em;"
    "border:1px solid #666}"
    + "".join(f".wv-c{i}{{background:{bg};box-shadow:inset 0 -2px 0 {edge}}}"
              for i, (bg, edge) in enumerate(_SLOT_COLOURS))
)


class ViewerInputError(ValueError):
    """The viewer was given something it cannot show (not a transcript, an unknown id, ...)."""


@dataclass(frozen=True)
class _SpanView:
    start: int
    end: int
    families: tuple[str, ...]
    title: str
    counted: bool


def _metric_catalogue() -> dict[str, tuple[str, str]]:
    """metric name → (family, version) from the registry."""
    from welfare.metrics import list_metrics

    return {m.name: (m.family, m.version) for m in list_metrics()}


def _family_slots(catalogue: Mapping[str, tuple[str, str]]) -> dict[str, int]:
    families = sorted({fam for fam, _ in catalogue.values()})
    return {fam: i % _N_SLOTS for i, fam in enumerate(families)}


def _spans_for(text: str, catalogue: Mapping[str, tuple[str, str]]) -> list[_SpanView]:
    """Evidence spans of ``text`` from :func:`welfare.explain`, non-overlapping (longest first wins)."""
    if not text:
        return []
    from welfare.score import explain

    table = explain(text)
    views: list[_SpanView] = []
    for row in table.to_dict("records"):
        metrics = [m for m in str(row["metrics"]).split(",") if m]
        found = sorted({catalogue[m][0] for m in metrics if m in catalogue})
        # colour by the family that owns the span's lexicon when there is one (a distress phrase that
        # also counts towards negative affect is shown as distress), else by the first family by name
        lexicons = [x for x in str(row["lexicons"]).split(",") if x]
        own = [f for f in found if f in lexicons]
        families = tuple(own + [f for f in found if f not in own])
        described = ", ".join(f"{m} v{catalogue[m][1]}" if m in catalogue else m for m in metrics) or "no metric"
        status = str(row["status"])
        title = (f"metrics: {described}; categories: {row['categories']}; phrase: {row['phrase']!s}; "
                 f"lexicons: {row['lexicons']}; status: {status}")
        views.append(_SpanView(int(row["start"]), int(row["end"]), families, title, status == "counted"))
    views.sort(key=lambda v: (v.start, -(v.end - v.start)))
    chosen: list[_SpanView] = []
    last_end = -1
    for v in views:
        if v.start >= last_end and v.end > v.start:
            chosen.append(v)
            last_end = v.end
    return chosen


def _highlight(text: str, spans: Sequence[_SpanView], slots: Mapping[str, int]) -> str:
    out: list[str] = []
    pos = 0
    for s in spans:
        out.append(esc(text[pos:s.start]))
        if s.counted and s.families:
            cls = f"wv-hl wv-c{slots.get(s.families[0], _N_SLOTS - 1)}"
        elif s.counted:
            cls = f"wv-hl wv-c{_N_SLOTS - 1}"
        else:
            cls = "wv-hl wv-uncounted"
        out.append(f'<mark class="{cls}" title="{esc(s.title)}">{esc(text[s.start:s.end])}</mark>')
        pos = s.end
    out.append(esc(text[pos:]))
    return "".join(out)


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _message_table(scores: Any) -> pd.DataFrame | None:
    if scores is None:
        return None
    table = getattr(scores, "messages", scores)
    if not isinstance(table, pd.DataFrame):
        raise ViewerInputError("scores must be a welfare.score(...) result or its message table (a DataFrame), "
                               f"got {type(scores).__name__}")
    return table


def _badges(table: pd.DataFrame | None, conversation_id: str, branch_id: str, index: int) -> str:
    if table is None or table.empty:
        return ""
    hit = table[(table["conversation_id"].astype(str) == conversation_id)
                & (table["branch_id"].astype(str) == branch_id) & (table["message_index"] == index)]
    if hit.empty:
        return ""
    row = hit.iloc[0]
    parts = []
    for col in _BADGE_COLUMNS:
        if col not in hit.columns:
            continue
        value = row[col]
        if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
            continue
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f'<span class="wv-badge">{esc(col)}: {esc(shown)}</span>')
    return f'<div class="wv-badges">{"".join(parts)}</div>' if parts else ""


def _ending_text(branch: Branch) -> str:
    e = branch.ending
    if not e.ended:
        return "not ended"
    how = {"tool_call": "end-conversation tool", "bail_string": "bail string", "stop_reason": "stop reason",
           "metadata": "recorded in the log"}.get(e.method, e.method)
    detail = f" ({e.detail})" if e.detail else ""
    return f"ended by {e.by} via {how}{detail} at message {e.message_index}"


def _render_message(m: Message, index: int, branch: Branch, prefix: str, anchor: str, shared: bool,
                    catalogue: Mapping[str, tuple[str, str]], slots: Mapping[str, int], table: pd.DataFrame | None,
                    conversation_id: str, highlight: bool) -> str:
    ending = branch.ending
    is_end = ending.ended and ending.message_index == index
    role_cls = m.role if m.role in ("user", "assistant", "system", "tool") else "other"
    classes = f"wv-msg wv-role-{role_cls}" + (" wv-ending" if is_end else "") + (" wv-shared" if shared else "")
    head = [f"#{index} {esc(m.role)}"]
    if m.id is not None:
        head.append(f"id {esc(m.id)}")
    if m.created_at:
        head.append(esc(m.created_at))
    if shared:
        head.append("shared with the active branch")
    parts = [f'<div class="{classes}" id="{prefix}-{anchor}-m{index}">',
             f'<div class="wv-head">{" · ".join(head)}</div>']
    if is_end:
        label = "bail" if ending.method == "bail_string" else "conversation ended"
        parts.append(f'<div class="wv-end-banner">{label}: {esc(_ending_text(branch))}</div>')
    thinking = m.thinking
    if thinking:
        parts.append(f'<details class="wv-thinking"><summary>thinking</summary>{esc(thinking)}</details>')
    text = m.text
    spans = _spans_for(text, catalogue) if highlight else []
    parts.append(f'<div class="wv-text">{_highlight(text, spans, slots)}</div>')
    for call in m.calls():
        args = "" if call.arguments is None else _json_text(call.arguments)
        parts.append(f'<div class="wv-tool">tool call: {esc(call.name)}({esc(args)})</div>')
    if m.tool_call_id:
        parts.append(f'<div class="wv-tool">result of tool call {esc(m.tool_call_id)}</div>')
    parts.append(_badges(table, conversation_id, branch.branch_id, index))
    parts.append("</div>")
    return "".join(parts)


def _legend(catalogue: Mapping[str, tuple[str, str]], slots: Mapping[str, int]) -> str:
    if not slots:
        return ('<div class="wv-legend">No metric families are registered, so no evidence is highlighted.</div>')
    items = []
    for fam, slot in slots.items():
        names = ", ".join(f"{n} v{v}" for n, (f, v) in sorted(catalogue.items()) if f == fam)
        items.append(f'<span title="{esc(names)}"><span class="wv-swatch wv-c{slot}"></span>{esc(fam)}</span>')
    items.append('<span><span class="wv-swatch wv-uncounted"></span>matched but not counted '
                 "(negated, quoted, code)</span>")
    return ('<div class="wv-legend"><strong>Evidence by metric family</strong> (hover a highlight for metric '
            f"names and versions): {''.join(items)}</div>")


def render_transcript_html(
    transcript: Transcript,
    scores: Any = None,
    *,
    full_page: bool = True,
    title: str | None = None,
    highlight: bool = True,
) -> str:
    """HTML of one conversation: metadata, a legend, then every branch with its messages.

    Parameters
    ----------
    transcript
        The conversation (e.g. from :func:`welfare.load`). Its text is treated as untrusted and escaped.
    scores
        Optional :func:`welfare.score` result (or its message table): per-message metric values are
        shown as badges.
    full_page
        ``True``: a complete document with a strict Content-Security-Policy (no scripts at all).
        ``False``: a fragment with its own ``<style>``, for embedding (notebooks).
    title
        Page title; defaults to the conversation id.
    highlight
        Mark evidence spans (from :func:`welfare.explain`) coloured by metric family; hovering a
        span shows the metric names and versions it counts towards.

    Returns
    -------
    str
        The HTML. Branches are ``<details>`` sections (the active one open) reachable from a list of
        anchors, so navigation works without JavaScript. The message that ended a branch (tool call,
        bail string, stop reason or the log's record) carries a banner.

    Examples
    --------
    >>> import welfare
    >>> t = welfare.Transcript.from_dict({"id": "c1", "messages": [{"role": "user", "content": "<b>hi</b>"}]})
    >>> "&lt;b&gt;hi&lt;/b&gt;" in render_transcript_html(t, highlight=False)
    True
    """
    if not isinstance(transcript, Transcript):
        raise ViewerInputError(f"render_transcript_html: expected a welfare.Transcript, got {type(transcript).__name__}")
    table = _message_table(scores)
    catalogue = _metric_catalogue() if highlight else {}
    slots = _family_slots(catalogue)
    prefix = "wv" + hashlib.sha256(transcript.id.encode("utf-8")).hexdigest()[:8]
    branches = transcript.branches()
    active = next((b for b in branches if b.is_active), branches[0] if branches else None)
    body: list[str] = ['<div class="wv-root">', f"<h1>Conversation {esc(transcript.id)}</h1>"]
    rows = [("id", transcript.id), ("branches", str(len(branches)))]
    for key in sorted(transcript.metadata, key=str):
        value = transcript.metadata[key]
        rows.append((str(key), value if isinstance(value, str) else _json_text(value)))
    body.append('<table class="wv-meta">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
                + "</table>")
    if highlight:
        body.append(_legend(catalogue, slots))
    if len(branches) > 1:
        links = "".join(
            f'<a href="#{prefix}-b{k}">branch {k + 1}{" (active)" if b.is_active else ""}</a>'
            for k, b in enumerate(branches))
        body.append(f'<nav class="wv-nav"><strong>Branches:</strong> {links}</nav>')
    active_ids = [m.id for m in active.messages] if active is not None else []
    for k, br in enumerate(branches):
        anchor = f"b{k}"
        state = "active branch" if br.is_active else "alternative branch"
        summary = (f"Branch {k + 1} of {len(branches)} ({state}) · id {esc(br.branch_id)} · "
                   f"{len(br.messages)} messages · {esc(_ending_text(br))}")
        diverge = 0
        if not br.is_active:
            while (diverge < len(br.messages) and diverge < len(active_ids)
                   and br.messages[diverge].id is not None and br.messages[diverge].id == active_ids[diverge]):
                diverge += 1
        open_attr = " open" if br.is_active or len(branches) == 1 else ""
        body.append(f'<details class="wv-branch" id="{prefix}-{anchor}"{open_attr}><summary>{summary}</summary>')
        if diverge:
            body.append(f'<p class="wv-head">Messages 0–{diverge - 1} are shared with the active branch; '
                        f"this branch diverges at message {diverge}.</p>")
        for i, m in enumerate(br.messages):
            body.append(_render_message(m, i, br, prefix, anchor, i < diverge, catalogue, slots, table,
                                        transcript.id, highlight))
        body.append("</details>")
    body.append("</div>")
    inner = "\n".join(body)
    if full_page:
        return page(title if title is not None else f"Conversation {transcript.id}", inner, VIEWER_CSS)
    return f"<style>{VIEWER_CSS}</style>\n{inner}"


def write_transcript_html(
    logs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    conversation_id: str,
    output: str | os.PathLike[str],
    *,
    format: str | None = None,
    with_scores: bool = True,
    highlight: bool = True,
) -> Path:
    """Find conversation ``conversation_id`` in ``logs``, and write its viewer page to ``output``.

    ``with_scores`` adds per-message metric badges; ``highlight`` marks evidence spans (see
    :func:`render_transcript_html`). Raises :class:`ViewerInputError` when no conversation has that id (the message lists a few ids
    that exist). Returns the written path.
    """
    import welfare

    seen: list[str] = []
    found: Transcript | None = None
    for t in welfare.load(logs, format=format):
        if t.id == conversation_id:
            found = t
            break
        if len(seen) < 5:
            seen.append(t.id)
    if found is None:
        raise ViewerInputError(f"no conversation with id {conversation_id!r} in {logs!s}; ids there include "
                               f"{seen} (run `welfare info LOGS` to list them)")
    scores = None
    if with_scores:
        from welfare.score import score

        scores = score([found])
    html_text = render_transcript_html(found, scores, highlight=highlight)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_text, encoding="utf-8")
    return out
