"""SQS for the local stack: the notice queue (session_runtime/conflation.py), as far as the handlers use it."""

from __future__ import annotations

from .queue import DelayQueue, SqsEndpoint

__all__ = ["DelayQueue", "SqsEndpoint"]
