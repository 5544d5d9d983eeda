"""`$disconnect`: unregister the connection (and its effect on the session) and tell whom it concerns.

A listener leaving: the speaker gets the new `listenerCount`. The current speaker leaving: the listeners
get `speakerDisconnected`; the session goes on (the sweep ends it if no speaker comes back in time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_runtime import presence
from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime


def on_disconnect(runtime: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    connection = runtime.store.unregister_connection(context["connectionId"])
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
    presence.connection_left(runtime.fanout, connection)
    return {"statusCode": 200}
