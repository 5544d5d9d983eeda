"""The scheduled sweep's handler: what it does is session_runtime/connection_sweep.py (ghost connections and half
registrations out, seat counts repaired, speakerless sessions ended); here the trigger is logged and the summary
answered."""

from __future__ import annotations

from typing import Any

from session_runtime.connection_sweep import sweep
from session_runtime.observability import logger, metrics, tracer
from session_runtime.runtime import get_runtime

__all__ = ["handler", "sweep"]


@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(sessionId=None, trigger=(event or {}).get("detail-type", "manual"))
    summary = sweep(get_runtime())
    logger.info("sweep finished", extra={k: v if k != "ended" else len(v) for k, v in summary.items()})
    return summary
