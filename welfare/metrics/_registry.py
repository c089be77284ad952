"""The metric registry: a metric is a decorated function with a frozen :class:`MetricInfo` record.

Message metrics are vectorised: ``func(batch: MessageBatch) -> array`` of one value per message
row of the batch (rows whose role the metric does not apply to are blanked by the engine).
Conversation metrics take a :class:`~welfare.metrics._batch.BranchBatch` and return one value per
branch. Discovery imports every module of :mod:`welfare.metrics`, so adding a metric never means
editing a list elsewhere.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

__all__ = ["MetricInfo", "UnknownMetricError", "get_metric", "list_metrics", "metric", "metrics_table"]

Level = Literal["message", "conversation"]
Kind = Literal["score", "count", "category", "flag", "index"]


class UnknownMetricError(KeyError):
    """Asked for a metric that is not registered; the message lists the valid names."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """What a metric is. ``version`` changes whenever the definition changes.

    ``range`` is ``(low, high)`` for numbers (``high`` may be ``inf``); ``categories`` lists the
    values of a ``category`` metric. ``evidence`` names the lexicon categories whose spans explain
    a non-zero value. ``depends`` names metrics that must be computed first (read with
    ``batch.column(name)``).
    """

    name: str
    version: str
    family: str
    level: Level
    kind: Kind
    definition: str
    roles: tuple[str, ...] = ("assistant",)
    range: tuple[float, float] = (0.0, 1.0)
    categories: tuple[str, ...] = ()
    direction: str = "higher = more"
    evidence: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    validated_against: str = "not yet validated"
    func: Callable[..., Any] = field(default=lambda batch: None, repr=False, compare=False)

    @property
    def column(self) -> str:
        return self.name


_REGISTRY: dict[str, MetricInfo] = {}
_DISCOVERED = False


def metric(
    *,
    name: str,
    version: str,
    family: str,
    level: Level,
    kind: Kind,
    definition: str,
    roles: tuple[str, ...] = ("assistant",),
    range: tuple[float, float] = (0.0, 1.0),
    categories: tuple[str, ...] = (),
    direction: str = "higher = more",
    evidence: tuple[str, ...] = (),
    depends: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    validated_against: str = "not yet validated",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a metric function (see the module docstring for the calling convention)."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is registered twice ({_REGISTRY[name].func.__module__} and "
                             f"{func.__module__})")
        if kind == "category" and not categories:
            raise ValueError(f"metric {name!r}: a category metric must list its categories")
        _REGISTRY[name] = MetricInfo(name=name, version=version, family=family, level=level, kind=kind,
                                     definition=definition, roles=roles, range=range, categories=categories,
                                     direction=direction, evidence=evidence, depends=depends,
                                     references=references, validated_against=validated_against, func=func)
        return func

    return register


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    import welfare.metrics as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    _DISCOVERED = True


def list_metrics(level: Level | None = None, family: str | None = None) -> list[MetricInfo]:
    """Every registered metric (optionally of one level or family), in computation order.

    Computation order puts each metric after the ones it depends on; otherwise it is sorted by
    level (message first), family and name.
    """
    _discover()
    infos = sorted(_REGISTRY.values(), key=lambda m: (m.level != "message", m.family, m.name))
    ordered: list[MetricInfo] = []
    done: set[str] = set()

    def visit(m: MetricInfo, stack: tuple[str, ...]) -> None:
        if m.name in done:
            return
        if m.name in stack:
            raise ValueError(f"metric dependencies form a cycle: {' -> '.join((*stack, m.name))}")
        for dep in m.depends:
            visit(get_metric(dep), (*stack, m.name))
        done.add(m.name)
        ordered.append(m)

    for m in infos:
        visit(m, ())
    return [m for m in ordered if (level is None or m.level == level) and (family is None or m.family == family)]


def get_metric(name: str) -> MetricInfo:
    """The :class:`MetricInfo` of ``name``; raises :class:`UnknownMetricError` listing valid names."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMetricError(f"unknown metric {name!r}; valid names: {', '.join(sorted(_REGISTRY))}") from None


def metrics_table() -> pd.DataFrame:
    """One row per metric: name, version, family, level, kind, roles, range, direction, definition."""
    rows = [
        {"name": m.name, "version": m.version, "family": m.family, "level": m.level, "kind": m.kind,
         "roles": ",".join(m.roles), "range": f"{m.range[0]:g}–{m.range[1]:g}" if m.kind != "category"
         else " | ".join(m.categories), "direction": m.direction, "definition": m.definition,
         "validated_against": m.validated_against}
        for m in list_metrics()
    ]
    return pd.DataFrame(rows)
