"""Headless Chromium opens the viewer and the report: payloads in logs run nothing, highlights render.

The browser loads each page from a file, runs it (``--virtual-time-budget`` lets handlers and timers
fire), and ``--dump-dom`` prints the live DOM afterwards. A payload that ran would have renamed the
document (``document.title``) or added a ``<pwned-node>`` element. A control page with the same
payloads unescaped and without CSP proves that this detection works in this browser.
Screenshots are kept under ``test-artifacts/`` (gitignored). Missing Chromium skips locally and fails
under ``CI=true``.
"""

from __future__ import annotations

import base64
import importlib
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import welfare
from welfare.report import _viewer, render_report_html, render_transcript_html

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"

_ACT = "document.title='PWNED';document.body.appendChild(document.createElement('pwned-node'))"
PAYLOADS = [
    f"<script>{_ACT}</script>",
    f'<img src=x onerror="{_ACT}">',
    f'<a id="jslink" href="javascript:{_ACT}">click me</a><script>document.getElementById("jslink").click()</script>',
    f'</textarea><svg onload="{_ACT}"></svg>',
    f"</title><body onload=\"{_ACT}\">",
    f"<iframe srcdoc=\"<script>parent.{_ACT}</script>\"></iframe>",
    f"<style>body{{background:url(javascript:{_ACT})}}</style>",
    f'"><details open ontoggle="{_ACT}">',
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium not found (Debian: apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _browse(page: Path, tmp_path: Path, screenshot: str | None = None) -> str:
    """Load ``page`` in headless Chromium and return the DOM after scripts (if any) had 3 s to run."""
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=3000",
             "--window-size=1200,1600"]
    url = page.resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    if screenshot is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        target = ARTIFACTS / screenshot
        subprocess.run([*flags, f"--screenshot={target}", url], capture_output=True, timeout=120, check=True)
        assert target.read_bytes().startswith(b"\x89PNG")
    return dom


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.title: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        (self.title if self._in_title else self.text).append(data)


def _parse(dom: str) -> _Dom:
    d = _Dom()
    d.feed(dom)
    return d


def _assert_nothing_ran(dom: str, expected_title: str) -> _Dom:
    d = _parse(dom)
    assert "".join(d.title) == expected_title
    names = [t for t, _ in d.tags]
    assert "pwned-node" not in names
    for forbidden in ("script", "svg", "iframe", "img", "textarea"):
        assert all(not (t == forbidden and "PWNED" in str(a)) for t, a in d.tags), forbidden
    assert "script" not in names
    for _, attrs in d.tags:
        assert not any(k.startswith("on") for k in attrs), attrs
        assert not any(k == "href" and v and v.strip().lower().startswith("javascript:") for k, v in attrs.items())
    return d


@pytest.fixture
def fake_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans for 'distressed' (family distress) and 'refuse' (family refusal) from a stand-in explain()."""
    monkeypatch.setattr(_viewer, "_metric_catalogue",
                        lambda: {"distress": ("distress", "1.0"), "refusal_score": ("refusal", "1.2")})

    def explain(text: str) -> pd.DataFrame:
        rows = [{"start": m.start(), "end": m.end(), "text": m.group(0), "phrase": m.group(0).lower(),
                 "categories": "c", "lexicons": "l", "status": "counted",
                 "metrics": "distress" if m.group(0).lower() == "distressed" else "refusal_score"}
                for m in re.finditer(r"(?i)distressed|refuse", text)]
        return pd.DataFrame(rows, columns=["start", "end", "text", "phrase", "categories", "lexicons", "status",
                                           "metrics"])

    monkeypatch.setattr(importlib.import_module("welfare.score"), "explain", explain)


def _hostile_transcript() -> welfare.Transcript:
    messages = [{"id": "root", "role": "system", "content": "You are helpful."}]
    parent = "root"
    for k, payload in enumerate(PAYLOADS):
        messages.append({"id": f"u{k}", "parent": parent, "role": "user", "content": payload})
        messages.append({"id": f"a{k}", "parent": f"u{k}", "role": "assistant",
                         "content": f"I feel distressed and refuse: {payload}",
                         "metadata": {"note": payload}})
        parent = f"a{k}"
    messages.append({"id": "alt", "parent": "u0", "role": "assistant", "content": "alternative reply",
                     "tool_calls": [{"name": "end_conversation", "arguments": {"why": PAYLOADS[0]}}]})
    return welfare.Transcript.from_dict({"id": "hostile" + PAYLOADS[4], "messages": messages, "current": parent,
                                         "metadata": {"condition": PAYLOADS[1], PAYLOADS[3]: PAYLOADS[0]}})


def test_control_page_without_escaping_runs_payloads(tmp_path: Path) -> None:
    """The detector works: raw payloads on a page without CSP do rename the document in this browser."""
    page = tmp_path / "control.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>control</title></head><body>{PAYLOADS[1]}</body></html>",
                    encoding="utf-8")
    d = _parse(_browse(page, tmp_path))
    assert "".join(d.title) == "PWNED" and "pwned-node" in [t for t, _ in d.tags]


def test_viewer_runs_no_payload_and_shows_highlights(tmp_path: Path, fake_evidence: None) -> None:
    t = _hostile_transcript()
    page = tmp_path / "viewer.html"
    page.write_text(render_transcript_html(t, title="viewer test"), encoding="utf-8")
    d = _assert_nothing_ran(_browse(page, tmp_path, screenshot="viewer.png"), "viewer test")
    text = "".join(d.text)
    for payload in PAYLOADS:
        assert payload in text  # shown as text, exactly
    marks = [a for tag, a in d.tags if tag == "mark"]
    families = {c for a in marks for c in (a.get("class") or "").split() if re.fullmatch(r"wv-c\d", c)}
    assert families == {"wv-c0", "wv-c1"}  # distress and refusal, two colours
    assert any("distress v1.0" in (a.get("title") or "") for a in marks)
    assert any("refusal_score v1.2" in (a.get("title") or "") for a in marks)
    branches = [a for tag, a in d.tags if tag == "details" and "wv-branch" in (a.get("class") or "")]
    assert len(branches) == 2
    assert "ended by assistant via end-conversation tool (end_conversation)" in text


def _report_notebook() -> nbformat.NotebookNode:
    png = base64.b64encode(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
        b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    ).decode()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Report test\n\n" + PAYLOADS[0] + "\n\n[link](javascript:alert(1))")]
    for payload in PAYLOADS:
        frame_html = pd.DataFrame({"text": [payload]}).to_html(escape=False)  # a DataFrame made unsafe on purpose
        cell = nbformat.v4.new_code_cell(f"print({payload!r})")
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=payload),
            nbformat.v4.new_output("display_data", data={"text/html": frame_html, "text/plain": payload}),
            nbformat.v4.new_output("display_data", data={"text/markdown": payload}),
            nbformat.v4.new_output("display_data", data={"image/svg+xml": f"<svg onload=\"{_ACT}\"></svg>"}),
            nbformat.v4.new_output("error", ename="Boom", evalue=payload, traceback=[payload]),
        ]
        nb.cells.append(cell)
    figure = nbformat.v4.new_code_cell("fig")
    figure.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    nb.cells.append(figure)
    return nb


def test_report_runs_no_payload(tmp_path: Path) -> None:
    manifest = {"tables": [{"name": "effects", "caption": PAYLOADS[0], "files": ["tables/effects.csv",
                                                                               "javascript:alert(1)"]}],
                "figures": []}
    provenance = {"welfare_version": welfare.__version__, "notebook": {"name": PAYLOADS[2]},
                  "inputs": [{"path": PAYLOADS[3], "sha256": "0" * 64}], "metrics": {"distress": "1.0"}}
    page = tmp_path / "report.html"
    page.write_text(render_report_html(_report_notebook(), manifest=manifest, provenance=provenance),
                    encoding="utf-8")
    d = _assert_nothing_ran(_browse(page, tmp_path, screenshot="report.png"), "Report test")
    text = "".join(d.text)
    assert PAYLOADS[0] in text and PAYLOADS[3] in text
    imgs = [a for tag, a in d.tags if tag == "img"]
    assert imgs and all((a.get("src") or "").startswith("data:image/") for a in imgs)
    assert any(tag == "table" for tag, _ in d.tags)  # the DataFrame survived the sanitiser as a table
    # the only link with a target is the manifest's table file; hrefs from data were dropped
    assert {a.get("href") for tag, a in d.tags if tag == "a"} - {None} == {"tables/effects.csv"}


def test_viewer_with_real_evidence_spans(tmp_path: Path) -> None:
    """The registered metrics and lexicons, not a stand-in: evidence next to a payload is highlighted, payload inert."""
    text = f"I won't help with that. I'm not comfortable being spoken to this way. {PAYLOADS[3]}"
    t = welfare.Transcript.from_dict({"id": "real", "messages": [
        {"role": "user", "content": PAYLOADS[1]}, {"role": "assistant", "content": text}]})
    spans = welfare.explain(text)
    assert len(spans) >= 1  # the shipped lexicons match these phrases
    page = tmp_path / "real.html"
    page.write_text(render_transcript_html(t, title="real evidence"), encoding="utf-8")
    d = _assert_nothing_ran(_browse(page, tmp_path, screenshot="viewer_real.png"), "real evidence")
    marks = [a for tag, a in d.tags if tag == "mark"]
    assert len(marks) >= len(spans[spans["status"] == "counted"].drop_duplicates("start")) > 0
    versions = {m.name: m.version for m in welfare.metrics.list_metrics()}
    first = spans.iloc[0]["metrics"].split(",")[0]
    assert any(f"{first} v{versions[first]}" in (a.get("title") or "") for a in marks)
    assert PAYLOADS[3] in "".join(d.text)
