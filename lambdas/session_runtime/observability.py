"""Powertools Logger, Metrics and Tracer, configured from the declared settings (POWERTOOLS_*)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()


@contextmanager
def subsegment(name: str) -> Iterator[None]:
    """An X-Ray subsegment around a block when tracing is on; nothing at all when it is off."""
    if tracer.disabled:
        yield
        return
    with tracer.provider.in_subsegment(name=f"## {name}"):
        yield
