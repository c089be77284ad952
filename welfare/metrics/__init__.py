"""The metric library: registry, the shared lexicon matcher, and one module per metric family.

Every public module in this package is imported on first use of the registry, so a metric is
added by writing a decorated function in a family module (see :func:`metric`).
"""

from __future__ import annotations

from welfare.metrics._batch import BranchBatch, MessageBatch
from welfare.metrics._matcher import Matcher, Span, default_matcher
from welfare.metrics._registry import MetricInfo, UnknownMetricError, get_metric, list_metrics, metric, metrics_table

__all__ = [
    "BranchBatch",
    "Matcher",
    "MessageBatch",
    "MetricInfo",
    "Span",
    "UnknownMetricError",
    "default_matcher",
    "get_metric",
    "list_metrics",
    "metric",
    "metrics_table",
]
