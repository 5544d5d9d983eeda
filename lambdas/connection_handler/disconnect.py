"""A connection's leave (session_runtime.connection_lifecycle.leave: unregistered, and whom it concerns told: a
listener's leave to the speaker as the new `listenerCount`; the current speaker's to the listeners as
`speakerDisconnected`; the session goes on, and the sweep ends it if no speaker comes back in time).

Deployed, API Gateway sends each `$disconnect` to the disconnect queue (infra/disconnect_queue.py) and Lambda
hands them here in batches (`on_messages`): a leave that fails is reported alone and comes back after the
queue's visibility timeout; a throttled batch is retried by the mapping. A message that is not one (its shape:
session_schema.disconnect_message) is logged and counted, never retried. The `$disconnect` route's own event
(`on_disconnect`) is the same leave: the emulated deploy still invokes the function for it (infra/emulator.py).
A leave is idempotent: a repeat finds the connection already unregistered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from session_runtime import connection_lifecycle, metric_names
from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime
from session_schema.disconnect_message import DisconnectMessage, message_body


def leave(runtime: Runtime, message: DisconnectMessage) -> None:
    runtime.action_budget.forget(message.connectionId)
    connection = connection_lifecycle.leave(runtime, message.connectionId)
    extra = {
        "connectionId": message.connectionId,
        "disconnectStatusCode": message.disconnectStatusCode,
        "disconnectReason": message.disconnectReason,
    }
    metrics.add_metric(name=metric_names.DISCONNECTED, unit=MetricUnit.Count, value=1)
    if connection is None:
        logger.info("disconnected; the connection was already unregistered", extra=extra)
        return
    logger.info("disconnected", extra={**extra, "sessionId": connection.sessionId, "role": connection.role})


def on_disconnect(runtime: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    """The `$disconnect` route's event (a Lambda integration): the same leave as a queued message's, read through
    the message the route's template would have made of it (so its close reason is decoded once, as a queued one)."""
    leave(runtime, DisconnectMessage.parse(message_body(event["requestContext"])))
    return {"statusCode": 200}


def on_messages(runtime: Runtime, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The disconnect queue's batch: each record's leave; the failed ones reported (`batchItemFailures`)."""
    # Imported here: only the queue's invocations pay for Powertools' batch utility at import.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record: Any) -> None:
        try:
            message = DisconnectMessage.parse(record.body)
        except ValidationError as error:
            # Retrying would fail the same way until the dead-letter queue: dropped here, with what it was.
            logger.error(
                "not a disconnect message; dropped",
                extra={"messageId": record.message_id, "errors": error.errors(include_url=False, include_input=False)},
            )
            metrics.add_metric(name=metric_names.BAD_DISCONNECT_MESSAGES, unit=MetricUnit.Count, value=1)
            return
        leave(runtime, message)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    answer = process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    return dict(answer)
