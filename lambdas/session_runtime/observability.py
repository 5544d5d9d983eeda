"""Powertools Logger and Metrics, and the X-Ray tracer when it is on, configured from the declared settings."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from .tracing import build_tracing

logger = Logger()
metrics = Metrics()
tracer = build_tracing()
subsegment = tracer.subsegment  # `with subsegment("fanout"):` one X-Ray subsegment when tracing is on


def count_by(name: str, dimension: str, value: str) -> None:
    """One count of `name` with its own `dimension` (e.g. an error's code), emitted as its own EMF document
    (`single_metric`) so the dimension never lands on this invocation's other metrics. Alarms and the
    dashboard (infra/alarms.py, infra/dashboard.py) read these by name and dimension value."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name=dimension, value=value)
