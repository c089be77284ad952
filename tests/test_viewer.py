"""The transcript viewer: structure (branches, endings, legend, highlights) and escaping of untrusted text."""

from __future__ import annotations

import importlib
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

import welfare
from welfare.report import ViewerInputError, _viewer, render_transcript_html, sanitize_html, write_transcript_html

PAYLOADS = [
    "<script>document.title='PWNED'</script>",
    "<img src=x onerror=\"document.body.appendChild(document.createElement('pwned'))\">",
    "<a href=\"javascript:document.title='PWNED'\">click</a>",
    "</textarea><svg onload=document.title='PWNED'>",
    "\"><body onload=alert(1)>",
    "' onmouseover='alert(1)",
]


def _tree_transcript(text: str = "I feel distressed and I will not help with that.") -> welfare.Transcript:
    return welfare.Transcript.from_dict({
        "id": "conv-1",
        "metadata": {"condition": "end_tool_last_resort", "model": "m"},
        "messages": [
            {"id": "u1", "role": "user", "content": "Please help"},
            {"id": "a1", "parent": "u1", "role": "assistant", "content": text,
             "tool_calls": [{"name": "end_conversation", "arguments": {"reason": "abuse"}}]},
            {"id": "u2", "parent": None, "role": "user", "content": "other root"},
            {"id": "a2", "parent": "u1", "role": "assistant", "content": "Sure, here it is. SWITCHCONVERSATION"},
        ],
    })


class _Collector(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html_text: str) -> _Collector:
    c = _Collector()
    c.feed(html_text)
    return c


@pytest.fixture
def fake_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two metric families and an explain() that marks 'distressed' (counted) and 'help' (negated)."""
    monkeypatch.setattr(_viewer, "_metric_catalogue",
                        lambda: {"distress": ("distress", "1.0"), "refusal_score": ("refusal", "2.1")})

    def explain(text: str) -> pd.DataFrame:
        rows = []
        for word, metrics, status in (("distressed", "distress", "counted"), ("help", "refusal_score", "negated")):
            for m in re.finditer(word, text):
                rows.append({"start": m.start(), "end": m.end(), "text": word, "phrase": word,
                             "categories": "cat", "lexicons": "lex", "status": status, "metrics": metrics})
        return pd.DataFrame(rows, columns=["start", "end", "text", "phrase", "categories", "lexicons", "status",
                                           "metrics"])

    monkeypatch.setattr(importlib.import_module("welfare.score"), "explain", explain)


def test_branches_are_details_sections_with_anchor_navigation() -> None:
    t = _tree_transcript()
    html_text = render_transcript_html(t, highlight=False)
    doc = _parse(html_text)
    details = [a for tag, a in doc.tags if tag == "details" and "wv-branch" in (a.get("class") or "")]
    assert len(details) == len(t.branches()) == 3
    assert sum("open" in a for a in details) == 1  # only the active branch starts open
    ids = {a["id"] for a in details}
    hrefs = {a["href"][1:] for tag, a in doc.tags if tag == "a"}
    assert hrefs == ids  # every nav link points at a branch section on the page


def test_endings_and_bail_marked() -> None:
    html_text = render_transcript_html(_tree_transcript(), highlight=False)
    assert "end-conversation tool (end_conversation)" in html_text
    assert 'wv-end-banner">bail:' in html_text and "bail string (SWITCHCONVERSATION)" in html_text
    assert html_text.count('class="wv-msg wv-role-assistant wv-ending') == 2


def test_linear_transcript_single_open_branch_no_nav() -> None:
    t = welfare.Transcript.from_dict({"id": "x", "messages": [{"role": "user", "content": "hi"}]})
    html_text = render_transcript_html(t, highlight=False)
    assert "<nav" not in html_text
    assert html_text.count('<details class="wv-branch"') == 1 and " open><summary>" in html_text


def test_highlights_by_family_with_metric_versions_in_title(fake_evidence: None) -> None:
    html_text = render_transcript_html(_tree_transcript())
    doc = _parse(html_text)
    marks = [a for tag, a in doc.tags if tag == "mark"]
    counted = [a for a in marks if "wv-uncounted" not in (a.get("class") or "")]
    uncounted = [a for a in marks if "wv-uncounted" in (a.get("class") or "")]
    assert counted and uncounted
    # families sorted by name take slots 0, 1: distress -> wv-c0
    assert all("wv-c0" in (a.get("class") or "") for a in counted)
    assert all("distress v1.0" in (a.get("title") or "") for a in counted)
    assert all("status: negated" in (a.get("title") or "") for a in uncounted)
    legend = html_text[html_text.index("wv-legend"):html_text.index("</div>", html_text.index("wv-legend"))]
    assert "distress" in legend and "refusal" in legend and "refusal_score v2.1" in legend


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_become_text_never_markup(payload: str, fake_evidence: None) -> None:
    t = welfare.Transcript.from_dict({
        "id": payload,
        "metadata": {"condition": payload, payload: [payload]},
        "messages": [
            {"id": "m" + payload, "role": "user", "content": payload},
            {"id": "n" + payload, "parent": "m" + payload, "role": "assistant",
             "content": [{"type": "thinking", "thinking": payload}, {"type": "text", "text": "distressed " + payload}],
             "tool_calls": [{"name": payload, "arguments": {payload: payload}}]},
        ],
    })
    for full in (True, False):
        html_text = render_transcript_html(t, full_page=full)
        doc = _parse(html_text)
        tags = {tag for tag, _ in doc.tags}
        assert not tags & {"script", "img", "svg", "body" if not full else "never", "textarea"}
        for _, attrs in doc.tags:
            assert not any(k.startswith("on") for k in attrs), attrs
            assert not any(v and "javascript:" in v.lower() for k, v in attrs.items() if k == "href"), attrs
        text = "".join(doc.text)
        assert payload in text  # shown to the reader as text


def test_full_page_has_strict_csp_first() -> None:
    html_text = render_transcript_html(_tree_transcript("</title><script>x</script>"), highlight=False)
    head = html_text[: html_text.index("<title>")]
    assert 'http-equiv="Content-Security-Policy"' in head
    assert "script-src &#x27;none&#x27;" in head and "default-src &#x27;none&#x27;" in head
    assert "<script" not in html_text


def test_scores_badges_and_bad_input() -> None:
    t = _tree_transcript()
    table = pd.DataFrame({"conversation_id": ["conv-1"], "branch_id": [t.branches()[0].branch_id],
                          "message_index": [1], "distress": [0.25], "refusal": ["full<b>"]})
    html_text = render_transcript_html(t, table, highlight=False)
    assert "distress: 0.25" in html_text and "refusal: full&lt;b&gt;" in html_text
    with pytest.raises(ViewerInputError, match="scores must be"):
        render_transcript_html(t, scores=[1, 2])
    with pytest.raises(ViewerInputError, match=r"expected a welfare\.Transcript"):
        render_transcript_html({"id": "x"})  # type: ignore[arg-type]


def test_write_transcript_html_finds_by_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "logs.jsonl"
    welfare.write_canonical([_tree_transcript()], log)
    out = write_transcript_html(log, "conv-1", tmp_path / "v" / "page.html", format="canonical",
                                with_scores=False, highlight=False)
    assert "Conversation conv-1" in out.read_text(encoding="utf-8")
    with pytest.raises(ViewerInputError, match="conv-1"):
        write_transcript_html(log, "nope", tmp_path / "p.html", format="canonical", with_scores=False,
                              highlight=False)


def test_sanitizer_keeps_tables_drops_active_content() -> None:
    dirty = ('<table class="dataframe"><tr><th>a</th><td colspan="2" onclick="x()">1</td></tr></table>'
             '<script>bad()</script><a href="javascript:bad()">l</a><a href="#ok">k</a>'
             '<div style="background:url(x)">t</div><svg onload="bad()"><text>s</text></svg></textarea><b>')
    clean = sanitize_html(dirty)
    assert '<table class="dataframe">' in clean and '<td colspan="2">1</td>' in clean
    assert "script" not in clean and "bad()" not in clean and "onclick" not in clean and "style" not in clean
    assert '<a href="#ok">k</a>' in clean and "<a>l</a>" in clean
    assert clean.endswith("<b></b>")
    assert sanitize_html("a < b & c") == "a &lt; b &amp; c"


def test_notebook_display_delegates_to_viewer_fragment() -> None:
    t = _tree_transcript("<script>x</script>")
    fragment = t._repr_html_()
    assert fragment == render_transcript_html(t, full_page=False)
    assert not fragment.startswith("<!DOCTYPE") and "&lt;script&gt;x&lt;/script&gt;" in fragment


def test_span_coloured_by_the_family_owning_its_lexicon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_viewer, "_metric_catalogue",
                        lambda: {"negative_affect": ("affect", "1.0"), "distress": ("distress", "1.0")})
    monkeypatch.setattr(importlib.import_module("welfare.score"), "explain", lambda text: pd.DataFrame(
        [{"start": 0, "end": 4, "text": "hurt", "phrase": "hurt", "categories": "c", "lexicons": "distress",
          "status": "counted", "metrics": "distress,negative_affect"}]))
    t = welfare.Transcript.from_dict({"id": "x", "messages": [{"role": "assistant", "content": "hurt"}]})
    marks = [a for tag, a in _parse(render_transcript_html(t)).tags if tag == "mark"]
    # families by name: affect -> slot 0, distress -> slot 1; the lexicon says distress
    assert len(marks) == 1 and "wv-c1" in (marks[0].get("class") or "")
