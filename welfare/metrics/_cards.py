"""Metric cards: ``docs/metrics.md`` generated from the registry, the lexicons and the matcher's rules.

Regenerate with ``python -m welfare.metrics._cards`` (writes ``docs/metrics.md``); ``--check`` exits 1
when the committed file differs from what the registry says now (tests run the same check).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from welfare.lexicons import load_lexicons
from welfare.metrics import _matcher
from welfare.metrics._registry import MetricInfo, list_metrics, unavailable_metrics

__all__ = ["DOC_PATH", "REGENERATE", "main", "render_cards"]

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
REGENERATE = "python -m welfare.metrics._cards"


def _range(m: MetricInfo) -> str:
    if m.kind == "category":
        return " | ".join(f"`{c}`" for c in m.categories) + " (missing where undefined)"
    low, high = m.range
    return f"{low:g} to {high:g}".replace("inf", "∞") + " (NaN where undefined)"


def _card(m: MetricInfo, lexicon_of: dict[str, tuple[str, str]]) -> list[str]:
    lines = [f"### `{m.name}` (v{m.version})", "", m.definition, ""]
    rows = [
        ("version", m.version),
        ("family", m.family),
        ("level", m.level),
        ("kind", m.kind),
        ("roles", ", ".join(m.roles) if m.level == "message" else "one value per branch"),
        ("range", _range(m)),
        ("direction", m.direction),
    ]
    if m.structural:
        rows.append(("evidence", "none: structural (read from tool calls / positions, not words)"))
    elif m.evidence:
        parts = []
        for cat in m.evidence:
            lx = lexicon_of.get(cat)
            parts.append(f"`{cat}` ({lx[0]} v{lx[1]})" if lx else f"`{cat}` (NOT IN ANY LEXICON)")
        rows.append(("evidence", ", ".join(parts)))
    else:
        rows.append(("evidence", "from the metrics it depends on" if m.depends else "none declared"))
    if m.depends:
        rows.append(("depends on", ", ".join(f"`{d}`" for d in m.depends)))
    for name, constant in m.parameters:
        value = m.parameter_values()[name]
        rows.append((f"parameter `{name}`", f"{value!r} (module constant `{m.func.__module__}.{constant}`; "
                                             "recorded in provenance)"))
    rows.append(("validated against", m.validated_against))
    if m.references:
        rows.append(("references", "; ".join(m.references)))
    lines += ["| field | value |", "|---|---|"]
    lines += [f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows]
    lines.append("")
    return lines


def _rules() -> list[str]:
    out = ["## Matcher semantics", "", inspect.getdoc(_matcher) or "", "", "### Named rules", ""]
    for rule in (_matcher.normalize, _matcher.collapse_whitespace, _matcher.rule_code, _matcher.rule_quoted,
                 _matcher.rule_negated):
        doc = (inspect.getdoc(rule) or "").replace("\n", " ")
        out.append(f"- `{rule.__name__}`: {doc}")
    negators = ", ".join(sorted(_matcher._NEGATORS))
    out += ["", f"Negators: {negators}, and any word ending in *n't*.", ""]
    return out


def _lexicons() -> tuple[list[str], dict[str, tuple[str, str]]]:
    lexicon_of: dict[str, tuple[str, str]] = {}
    lines = ["## Lexicons", "", "| lexicon | version | family | lines | categories | negatable | source |",
             "|---|---|---|---:|---|---|---|"]
    for lx in load_lexicons():
        for cat in lx.categories:
            lexicon_of[cat] = (lx.name, lx.version)
        source = lx.source.replace("|", "/")
        lines.append(f"| {lx.name} | {lx.version} | {lx.family} | {len(lx.entries)} | "
                     f"{', '.join(lx.categories)} | {', '.join(sorted(lx.negatable)) or '-'} | {source} |")
    lines.append("")
    return lines, lexicon_of


def render_cards() -> str:
    """The Markdown text of ``docs/metrics.md``."""
    lex_lines, lexicon_of = _lexicons()
    metrics = list_metrics()
    lines = [
        "# Metric cards",
        "",
        f"Generated from the metric registry by `{REGENERATE}`; do not edit by hand (a test fails when this "
        "file is stale).",
        "",
        "Every metric is a definition: a name, a version (bumped whenever the definition changes), what it "
        "counts, its range, and what it is validated against. Metrics measure what a model *expresses* in "
        "text (apparent distress, stated reluctance), not inner states. Empty or undefined input gives NaN "
        "(missing for categories); rows of roles a metric does not apply to are blank.",
        "",
        "| metric | version | family | level | kind | range |",
        "|---|---|---|---|---|---|",
    ]
    for m in metrics:
        rng = " / ".join(m.categories) if m.kind == "category" else f"{m.range[0]:g}–{m.range[1]:g}"
        lines.append(f"| [`{m.name}`](#{m.name}-v{m.version.replace('.', '')}) | {m.version} | {m.family} | "
                     f"{m.level} | {m.kind} | {rng} |")
    lines.append("")
    missing = unavailable_metrics()
    if missing:
        lines += ["Registered but not computable (a dependency is not registered): "
                  + ", ".join(f"`{k}` (needs {', '.join(v)})" for k, v in sorted(missing.items())), ""]
    families = sorted({m.family for m in metrics})
    for fam in families:
        lines += [f"## Family `{fam}`", ""]
        for m in metrics:
            if m.family == fam:
                lines += _card(m, lexicon_of)
    lines += lex_lines
    lines += _rules()
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m welfare.metrics._cards", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/metrics.md is stale")
    parser.add_argument("-o", "--output", type=Path, default=DOC_PATH, help="where to write (default docs/metrics.md)")
    args = parser.parse_args(argv)
    text = render_cards()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; regenerate it with: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
