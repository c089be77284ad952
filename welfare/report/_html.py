"""HTML building blocks shared by the viewer and the report: escaping, the page shell with a strict
Content-Security-Policy, and an allow-list sanitiser for HTML that notebooks display.

Logs are untrusted input. Every piece of text that comes from data goes through :func:`esc`
(``html.escape`` with quotes) and lands either in element content or in a double-quoted
attribute. No script, no event handler and no URL is ever built from data. Pages carry a CSP
that forbids scripts outright and allows only the page's own stylesheet (by hash) and
``data:`` images, so even a mistake elsewhere cannot run code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from html.parser import HTMLParser

__all__ = ["csp_for", "esc", "page", "png_data_uri", "sanitize_html", "svg_data_uri"]


def esc(value: object) -> str:
    """Text → HTML-safe text for element content or a double-quoted attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def _style_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def csp_for(css: str) -> str:
    """The Content-Security-Policy of a page whose only stylesheet is ``css``: no scripts, no
    network, no forms, no frames, no plugins; images only as ``data:`` URIs."""
    return ("default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; "
            f"base-uri 'none'; form-action 'none'; img-src data:; style-src {_style_hash(css)}")


def page(title: str, body: str, css: str) -> str:
    """A complete HTML document. ``title`` is text (escaped here); ``body`` must already be safe HTML.

    The CSP ``<meta>`` comes first in ``<head>``, before anything derived from data.
    """
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(csp_for(css))}\">\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n"
        f"<style>{css}</style>\n"
        "</head>\n<body>\n"
        f"{body}\n"
        "</body>\n</html>\n"
    )


def png_data_uri(b64: str) -> str | None:
    """A ``data:image/png`` URI from base64 text, or ``None`` when it is not a PNG."""
    try:
        raw = base64.b64decode("".join(b64.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def svg_data_uri(svg: str) -> str:
    """An SVG as a ``data:`` URI for ``<img src>``: images never run scripts."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


# -- sanitiser -------------------------------------------------------------------------------------

#: Elements kept (with their content); every other tag is dropped, its text kept and escaped.
_ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "details", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "mark", "ol", "p", "pre", "s",
    "section", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
})
_VOID_TAGS = frozenset({"br", "col", "hr"})
#: Elements dropped together with everything inside them.
_DROP_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "embed", "noscript", "textarea",
                           "title", "xmp", "noembed", "noframes", "plaintext", "svg", "math", "head"})
#: Attributes kept; values are escaped and re-quoted.
_ALLOWED_ATTRS = frozenset({"class", "title", "colspan", "rowspan", "open", "id", "href", "lang", "dir"})
_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_\- ]{0,200}$")
_SAFE_NUMBER = re.compile(r"^[0-9]{1,4}$")


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping = 0
        self.drop_stack: list[str] = []

    def _attrs(self, attrs: list[tuple[str, str | None]]) -> str:
        parts = []
        for name, value in attrs:
            name = name.lower()
            if name not in _ALLOWED_ATTRS:
                continue
            val = "" if value is None else value
            if name == "href":
                # only same-page anchors: never a scheme (javascript:, data:, http:) from the input
                if not re.fullmatch(r"#[A-Za-z0-9_\-]{1,200}", val):
                    continue
            elif name in ("colspan", "rowspan"):
                if not _SAFE_NUMBER.match(val):
                    continue
            elif name in ("class", "id", "lang", "dir") and not _SAFE_TOKEN.match(val):
                continue
            parts.append(f' {name}="{esc(val)}"')
        return "".join(parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if self.dropping:
            if tag in _DROP_CONTENT:
                self.drop_stack.append(tag)
                self.dropping += 1
            return
        if tag in _DROP_CONTENT:
            self.drop_stack.append(tag)
            self.dropping += 1
            return
        if tag not in _ALLOWED_TAGS:
            return
        self.out.append(f"<{tag}{self._attrs(attrs)}>")
        if tag not in _VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if self.dropping or tag in _DROP_CONTENT or tag not in _ALLOWED_TAGS:
            return
        self.out.append(f"<{tag}{self._attrs(attrs)}>")
        if tag not in _VOID_TAGS:
            self.out.append(f"</{tag}>")

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if self.dropping:
            if tag in _DROP_CONTENT and self.drop_stack and self.drop_stack[-1] == tag:
                self.drop_stack.pop()
                self.dropping -= 1
            return
        if tag not in _ALLOWED_TAGS or tag in _VOID_TAGS or tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(esc(data))

    def close_all(self) -> str:
        self.close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


def sanitize_html(fragment: str) -> str:
    """Rebuild an HTML fragment from an allow-list of elements and attributes.

    Tables, text formatting, lists, ``<details>`` and same-page anchors survive (a pandas
    DataFrame's HTML, the transcript viewer's HTML); scripts, styles, frames, SVG, event-handler
    attributes, inline styles and every URL other than ``#anchor`` are removed. Text is
    re-escaped, and unclosed elements are closed, so the result cannot break out of its container.
    """
    parser = _Sanitizer()
    parser.feed(fragment)
    return parser.close_all()
