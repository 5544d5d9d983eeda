"""The WebSocket API's Lambda handler: `$connect`, `$default` and every action route, and the disconnect queue's
batches of `$disconnect`s (connection_handler/disconnect.py).

Dispatch is on the event's shape: SQS `Records` are the disconnect queue's; otherwise `requestContext.routeKey`.
Every log line of an invocation carries `routeKey`, `connectionId` and (once known) `sessionId`. A frame never
raises out of here: a refusal is an `error` event answered on the same connection, an unexpected failure an
`INTERNAL_ERROR` one (no internals).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_protocol import frames
from session_runtime import metric_names
from session_runtime.observability import count_by, logger, metrics, tracer
from session_runtime.runtime import Runtime, get_runtime
from session_runtime.timeouts import retrying_throttles
from session_schema.errors import DomainError, Forbidden, RateLimited, SessionEnded
from session_store.aws_errors import aws_refusal

from . import actions, responses
from .connect import on_connect
from .disconnect import on_disconnect, on_messages


def _refusal(error: Exception) -> DomainError | None:
    """The refusal an error stands for: a domain error, or a failed AWS call that is not our bug (a throttle
    past the client's retry: RATE_LIMITED; no answer in time: SERVICE_UNAVAILABLE). None for anything else,
    which is an internal error."""
    if isinstance(error, DomainError):
        return error
    refused = aws_refusal(error)
    if refused is not None:
        logger.warning("AWS call failed", extra={"code": refused.code, "error": type(error).__name__})
    return refused


def _count_refusal(refused: DomainError, metric: str) -> None:
    # A 5xx refusal (a service that did not answer) is a fault an operator must see: counted with the errors.
    failed = refused.status >= 500
    metrics.add_metric(name=metric_names.HANDLER_ERRORS if failed else metric, unit=MetricUnit.Count, value=1)


def _connect(runtime: Runtime, event: Mapping[str, Any], request_id: str | None) -> dict[str, Any]:
    try:
        return on_connect(runtime, event)
    except Exception as error:
        refused = _refusal(error)
        if refused is None:
            logger.exception("connect failed")
            metrics.add_metric(name=metric_names.HANDLER_ERRORS, unit=MetricUnit.Count, value=1)
            return responses.handshake_failed(request_id)
        extra: dict[str, Any] = {"code": refused.code, "status": refused.status}
        if isinstance(refused, SessionEnded):
            extra["actualStatus"] = refused.actual_status
        logger.info("connect refused", extra=extra)
        _count_refusal(refused, "ConnectRefused")
        count_by(metric_names.JOIN_REFUSED, metric_names.REASON, refused.code)  # the dashboard's, by reason
        return responses.handshake_refused(refused, request_id)


def _disconnect(runtime: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return on_disconnect(runtime, event)
    except Exception:
        # Only an emulated deploy invokes the route (infra/emulator.py): API Gateway ignores the answer and never
        # retries; the sweep is the backstop.
        logger.exception("disconnect failed")
        metrics.add_metric(name=metric_names.HANDLER_ERRORS, unit=MetricUnit.Count, value=1)
        return {"statusCode": 500}


def _client_id(event: Mapping[str, Any], route_key: str) -> str | None:
    """The frame's `id`: parsed for that only (no request), never performed."""
    try:
        return frames.parse_frame(route_key, event.get("body"), is_base64=bool(event.get("isBase64Encoded"))).id
    except frames.FrameRefused as bad:
        return bad.client_id


def _over_budget(client_id: str | None, wait_ms: int) -> dict[str, Any]:
    """RATE_LIMITED with the wait, echoing the frame's `id`. Counted, not logged, so a spammer cannot make us write
    (and pay for) a log line per frame."""
    metrics.add_metric(name=metric_names.RATE_LIMITED_ACTIONS, unit=MetricUnit.Count, value=1)
    return responses.answer(responses.error_event(RateLimited(wait_ms)), client_id)


_REACT = frames.ACTIONS.of_frame(frames.ReactFrame).name


def _message(runtime: Runtime, event: Mapping[str, Any], route_key: str, connection_id: str) -> dict[str, Any]:
    # Before anything that costs a request; the read cost is the one its action declares (0 for $default).
    wait_ms = runtime.action_budget.charge(connection_id, reads=frames.ACTIONS.reads(route_key))
    if wait_ms is not None:
        asked_by = _client_id(event, route_key)
        if route_key == _REACT:  # a reaction past the budget is dropped and counted: never an error storm
            metrics.add_metric(name=metric_names.REACTIONS_DROPPED, unit=MetricUnit.Count, value=1)
            if asked_by is None:
                return responses.answered()  # answered only when the frame asks to be (its `id`)
        return _over_budget(asked_by, wait_ms)
    client_id: str | None = None  # the frame's `id`, echoed in its direct answer
    try:
        try:
            frame = frames.parse_frame(route_key, event.get("body"), is_base64=bool(event.get("isBase64Encoded")))
        except frames.FrameRefused as bad:
            client_id = bad.client_id
            raise bad.refusal from None
        client_id = frame.id
        payload: dict[str, Any] | None = actions.perform(runtime, connection_id, frame)
        metrics.add_metric(name="Actions", unit=MetricUnit.Count, value=1)
    except Exception as error:
        refused = _refusal(error)
        if refused is None:
            logger.exception("action failed")
            metrics.add_metric(name=metric_names.HANDLER_ERRORS, unit=MetricUnit.Count, value=1)
            payload = responses.internal_error_event()
        else:
            logger.info("action refused", extra={"code": refused.code, "error": refused.message})
            _count_refusal(refused, metric_names.ACTIONS_REFUSED)
            if isinstance(refused, Forbidden):
                runtime.action_budget.charge_read(connection_id)  # a listener's speaker action cost the role read
            payload = responses.error_event(refused)
    if payload is None:
        return responses.answered()
    return responses.answer(payload, client_id)


@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:  # the disconnect queue's batch (SQS events have no requestContext)
        logger.thread_safe_clear_keys()
        # The route the messages stand for; each leave's line names its own connection and session.
        logger.thread_safe_append_keys(
            sessionId=None,
            role=None,
            routeKey="$disconnect",
            function_request_id=getattr(context, "aws_request_id", None),
        )
        with retrying_throttles(context):
            return on_messages(get_runtime(), event, context)
    request_context = event.get("requestContext") or {}
    route_key = request_context.get("routeKey") or "$default"
    connection_id = request_context.get("connectionId") or ""
    request_id = request_context.get("requestId")
    logger.thread_safe_clear_keys()
    # Thread-local keys win over global ones and None is dropped: `sessionId=None` masks a key another
    # handler sharing this process (the local stack) appended globally, until this one learns its own.
    logger.thread_safe_append_keys(
        sessionId=None,
        role=None,
        routeKey=route_key,
        connectionId=connection_id,
        requestId=request_id,
        function_request_id=getattr(context, "aws_request_id", None),
    )
    runtime = get_runtime()
    with retrying_throttles(context):
        if route_key == "$connect":
            return _connect(runtime, event, request_id)
        if route_key == "$disconnect":
            return _disconnect(runtime, event)
        return _message(runtime, event, route_key, connection_id)
