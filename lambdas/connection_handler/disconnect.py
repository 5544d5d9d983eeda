"""`$disconnect`: the connection leaves (session_runtime.connection_lifecycle.leave: unregistered, and whom it
concerns told: a listener's leave to the speaker as the new `listenerCount`; the current speaker's to the listeners
as `speakerDisconnected`; the session goes on, and the sweep ends it if no speaker comes back in time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_runtime import connection_lifecycle
from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime


def on_disconnect(runtime: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    connection = connection_lifecycle.leave(runtime, context["connectionId"])
    extra = {
        "disconnectStatusCode": context.get("disconnectStatusCode"),
        "disconnectReason": context.get("disconnectReason"),
    }
    metrics.add_metric(name="Disconnected", unit=MetricUnit.Count, value=1)
    if connection is None:
        logger.info("disconnected; the connection was already unregistered", extra=extra)
        return {"statusCode": 200}
    logger.thread_safe_append_keys(sessionId=connection.sessionId)
    logger.info("disconnected", extra={**extra, "role": connection.role})
    return {"statusCode": 200}
