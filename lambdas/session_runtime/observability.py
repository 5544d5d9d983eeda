"""Powertools Logger and Metrics, and the X-Ray tracer when it is on, configured from the declared settings."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from .tracing import build_tracing

logger = Logger()
metrics = Metrics()
tracer = build_tracing()
subsegment = tracer.subsegment  # `with subsegment("fanout"):` one X-Ray subsegment when tracing is on
