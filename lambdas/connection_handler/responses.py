"""What the handler returns to API Gateway, and the one mapping from domain errors to WebSocket answers.

Actions answer through the route response (`returns_response=True` routes): `{"statusCode": 200, "body"}`
with a server event as the body. `$connect` answers the handshake: 200 accepts it, any other status refuses
it with that status, and the body carries the HTTP API's error shape.
"""

from __future__ import annotations

from typing import Any

from session_protocol import events
from session_protocol.encoding import encode_payload
from session_schema.errors import DomainError
from session_schema.views import ErrorResponse

INTERNAL_MESSAGE = "something went wrong on our side"


def answer(payload: dict[str, Any], client_id: str | None = None) -> dict[str, Any]:
    """A route response carrying one server event to the connection that sent the frame (with its `id`)."""
    return {"statusCode": 200, "body": encode_payload(with_client_id(payload, client_id)).decode()}


def answered() -> dict[str, Any]:
    """An empty route response: the action posted its answer to the connection itself (API Gateway sends
    nothing for a response without a body)."""
    return {"statusCode": 200}


def with_client_id(payload: dict[str, Any], client_id: str | None) -> dict[str, Any]:
    """The answer to a frame that carried a client `id`: the same event, echoing it."""
    return payload if client_id is None else {**payload, "id": client_id}


def error_event(error: DomainError) -> dict[str, Any]:
    """`{"type": "error", "code", "message", ...details}` for any domain refusal (field, from/to...)."""
    return events.error(error.code, error.message, **error.details())


def internal_error_event() -> dict[str, Any]:
    return events.error("INTERNAL_ERROR", INTERNAL_MESSAGE)


def handshake_accepted() -> dict[str, Any]:
    return {"statusCode": 200}


def _handshake_answer(status: int, code: str, message: str, request_id: str | None, **details: Any) -> dict[str, Any]:
    """A refused handshake: the status and the HTTP API's error body (`ErrorResponse`, in /asyncapi.json too)."""
    error = {"code": code, "message": message, "requestId": request_id, **details}
    body = ErrorResponse.model_validate({"error": error}).model_dump(mode="json", by_alias=True, exclude_unset=True)
    return {"statusCode": status, "body": encode_payload(body).decode()}


def handshake_refused(error: DomainError, request_id: str | None) -> dict[str, Any]:
    """A refused handshake; with `Retry-After` when the refusal says when to try again (a full session)."""
    refused = _handshake_answer(error.status, error.code, error.message, request_id, **error.details())
    if error.retry_after_seconds is not None:
        refused["headers"] = {"Retry-After": str(error.retry_after_seconds)}
    return refused


def handshake_failed(request_id: str | None) -> dict[str, Any]:
    return _handshake_answer(500, "INTERNAL_ERROR", INTERNAL_MESSAGE, request_id)
