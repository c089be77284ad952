"""A standalone HTML report from an executed notebook, its outputs manifest and provenance.

Everything is rendered here, without nbconvert: Markdown through markdown-it with raw HTML turned
off; text outputs escaped; images re-encoded as ``data:`` URIs after checking they are images;
HTML outputs (DataFrames, the transcript viewer) rebuilt by the allow-list sanitiser. The page
has no script and a strict Content-Security-Policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from welfare.report._html import esc, page, png_data_uri, sanitize_html, svg_data_uri
from welfare.report._viewer import VIEWER_CSS

__all__ = ["REPORT_CSS", "render_report_html"]

REPORT_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:15px;line-height:1.5;"
    "max-width:62em;margin:1em auto;padding:0 1em;color:#1a1a1a}"
    "pre{background:#f5f5f5;padding:.5em;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;"
    "font-size:.85em}"
    "code{font-size:.9em}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.85em}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f0f0f0}"
    "img{max-width:100%}"
    ".rp-prov{border:1px solid #ccc;padding:.5em;background:#fbfbfb;font-size:.9em}"
    ".rp-prov td,.rp-prov th{text-align:left}"
    ".rp-code>summary{cursor:pointer;color:#555;font-size:.85em}"
    ".rp-error{background:#fff0f0;border-left:4px solid #D55E00}"
    ".rp-stderr{background:#fff8e6}"
    ".rp-cell{margin:.6em 0}.rp-html{overflow-x:auto}"
    + VIEWER_CSS
)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    return md.render(text)


def _output_html(output: Mapping[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        cls = "rp-stderr" if output.get("name") == "stderr" else "rp-stdout"
        return f'<pre class="{cls}">{esc(_ANSI.sub("", str(output.get("text", ""))))}</pre>'
    if kind == "error":
        trace = "\n".join(_ANSI.sub("", str(line)) for line in output.get("traceback", []))
        return (f'<pre class="rp-error">{esc(output.get("ename", ""))}: {esc(output.get("evalue", ""))}\n'
                f"{esc(trace)}</pre>")
    if kind not in ("execute_result", "display_data"):
        return ""
    data = output.get("data", {})
    if "image/png" in data:
        uri = png_data_uri(str(data["image/png"]))
        if uri is not None:
            return f'<img alt="figure" src="{esc(uri)}">'
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"]
        return f'<img alt="figure" src="{esc(svg_data_uri("".join(svg) if isinstance(svg, list) else str(svg)))}">'
    if "text/html" in data:
        raw = data["text/html"]
        return f'<div class="rp-html">{sanitize_html("".join(raw) if isinstance(raw, list) else str(raw))}</div>'
    if "text/markdown" in data:
        return _markdown(str(data["text/markdown"]))
    if "text/plain" in data:
        return f"<pre>{esc(data['text/plain'])}</pre>"
    return ""


def _provenance_html(provenance: Mapping[str, Any]) -> str:
    rows = [("welfare", provenance.get("welfare_version", "")),
            ("notebook", (provenance.get("notebook") or {}).get("name", "")),
            ("generated", provenance.get("generated_at", ""))]
    inputs = provenance.get("inputs", [])
    for item in inputs[:20]:
        rows.append(("input", f"{item.get('path', '')} (sha256 {str(item.get('sha256', ''))[:16]}…)"))
    if len(inputs) > 20:
        rows.append(("input", f"… and {len(inputs) - 20} more (see provenance.json)"))
    metrics = provenance.get("metrics", {})
    if metrics:
        rows.append(("metrics", ", ".join(f"{k} v{v}" for k, v in sorted(metrics.items()))))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return (f'<details class="rp-prov" open><summary>Provenance (full record in provenance.json)</summary>'
            f"<table>{body}</table></details>")


def _manifest_html(manifest: Mapping[str, Any]) -> str:
    items = []
    for kind in ("figures", "tables"):
        for entry in manifest.get(kind, []):
            links = " ".join(f'<a href="{esc(f)}">{esc(f.rsplit(".", 1)[-1])}</a>' for f in entry.get("files", [])
                             if re.fullmatch(r"(figures|tables)/[A-Za-z0-9_\-]+\.[a-z]+", str(f)))
            caption = f" — {esc(entry.get('caption'))}" if entry.get("caption") else ""
            items.append(f"<li>{kind[:-1]} <code>{esc(entry.get('name', ''))}</code>{caption}: {links}</li>")
    if not items:
        return ""
    return f"<h2>Files</h2><ul>{''.join(items)}</ul>"


def render_report_html(nb: Any, *, manifest: Mapping[str, Any] | None = None,
                       provenance: Mapping[str, Any] | None = None, title: str | None = None,
                       show_code: bool = True) -> str:
    """The standalone HTML page of an executed notebook.

    Parameters
    ----------
    nb
        An executed ``nbformat`` notebook.
    manifest
        The ``outputs.json`` of :class:`ReportOutputs` (links to the figure and table files).
    provenance
        The provenance record (summarised at the end).
    title
        Page title; defaults to the notebook's first Markdown heading.
    show_code
        Include each code cell's source, folded in a ``<details>``.
    """
    parts: list[str] = []
    found_title = title
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if found_title is None:
                m = re.search(r"^#\s+(.+)$", cell.source, flags=re.MULTILINE)
                if m:
                    found_title = m.group(1).strip()
            parts.append(f'<div class="rp-cell rp-md">{_markdown(cell.source)}</div>')
        elif cell.cell_type == "code":
            block = ['<div class="rp-cell">']
            if show_code and cell.source.strip():
                block.append(f'<details class="rp-code"><summary>code</summary><pre><code>{esc(cell.source)}'
                             "</code></pre></details>")
            block.extend(_output_html(o) for o in cell.get("outputs", []))
            block.append("</div>")
            parts.append("".join(block))
    tail = [_manifest_html(manifest)] if manifest else []
    if provenance:
        tail.append("<h2>Provenance</h2>" + _provenance_html(provenance))
    return page(found_title or "welfare report", "\n".join([*parts, *tail]), REPORT_CSS)
