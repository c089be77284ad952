"""JSON decoding shared by the JSON-based readers (msgspec when present, stdlib otherwise)."""

from __future__ import annotations

import json
from typing import Any

from welfare.io._base import RecordError

try:  # msgspec is a dependency; the fallback keeps a broken install usable.
    import msgspec

    _decode = msgspec.json.decode
    _DecodeError: tuple[type[Exception], ...] = (msgspec.DecodeError,)
except ImportError:  # pragma: no cover
    _decode = json.loads  # type: ignore[assignment]
    _DecodeError = (json.JSONDecodeError,)

__all__ = ["decode_json", "dumps"]


def decode_json(raw: bytes, line: int | None) -> Any | RecordError:
    """Parse one JSON document, or a :class:`RecordError` saying why it is not JSON."""
    try:
        return _decode(raw)
    except _DecodeError as err:
        try:  # stdlib gives line/column positions that read better in an error message
            json.loads(raw)
        except UnicodeDecodeError as uerr:
            return RecordError("invalid UTF-8", line=line, expected="UTF-8 text", found=str(uerr))
        except json.JSONDecodeError as jerr:
            trunc = " (truncated?)" if jerr.pos >= len(raw.rstrip()) - 1 else ""
            return RecordError(f"malformed JSON{trunc}: {jerr.msg} at column {jerr.colno}", line=line,
                               expected="one JSON object per line", found=_snippet(raw, jerr.pos))
        except ValueError as verr:
            return RecordError(f"malformed JSON: {verr}", line=line, expected="valid JSON")
        return RecordError(f"malformed JSON: {err}", line=line, expected="valid JSON")


def dumps(obj: Any) -> str:
    """Compact JSON text with non-ASCII kept (deterministic key order as given)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _snippet(raw: bytes, pos: int, width: int = 30) -> str:
    start = max(0, pos - width)
    text = raw[start : pos + width].decode("utf-8", "replace")
    return repr(("..." if start else "") + text)
