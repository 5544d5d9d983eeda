"""Powertools Logger, Metrics and Tracer, configured from the declared settings (POWERTOOLS_*)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
