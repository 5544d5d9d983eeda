"""`$connect`: check the session and register the connection in one DynamoDB transaction.

No token (or a token that does not verify): a listener, one TransactWriteItems and nothing else.
A valid token: first try as the speaker (the transaction checks ownership); a session someone else owns
answers NotOwner from the cancellation, and the caller joins as a signed-in listener.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime
from session_schema.errors import InvalidSessionId, Unauthorized
from session_schema.ids import normalize_session_id
from session_schema.models import Connection, Role
from session_store.store import NotOwner

from . import responses


def _query(event: Mapping[str, Any]) -> Mapping[str, str]:
    return event.get("queryStringParameters") or {}


def session_id_of(event: Mapping[str, Any]) -> str:
    raw = _query(event).get("sessionId") or ""
    session_id = normalize_session_id(raw) if isinstance(raw, str) else None
    if session_id is None:
        raise InvalidSessionId(str(raw))
    return session_id


def _verified_user(runtime: Runtime, token: str | None) -> str | None:
    if not token:
        return None
    try:
        return runtime.verifier.verify(token).user_id
    except Unauthorized as refused:
        # The contract: anything but the owner's valid token is a listener, so a bad token is anonymous.
        logger.info("token not accepted; connecting as an anonymous listener", extra={"reason": refused.message})
        return None


def _connection(
    runtime: Runtime, event: Mapping[str, Any], session_id: str, role: Role, user_id: str | None
) -> Connection:
    context = event["requestContext"]
    now = runtime.store.clock()
    connected_at = context.get("connectedAt")
    return Connection(
        connectionId=context["connectionId"],
        sessionId=session_id,
        role=role,
        userId=user_id,
        connectedAt=connected_at if isinstance(connected_at, int) and connected_at > 0 else now,
        expiresAt=now // 1000 + runtime.settings.connection_ttl_seconds,
    )


def register(runtime: Runtime, event: Mapping[str, Any], session_id: str) -> Connection:
    """Register the connection as speaker or listener; raises the domain refusal otherwise."""
    user_id = _verified_user(runtime, _query(event).get("token"))
    if user_id is not None:
        speaker = _connection(runtime, event, session_id, "speaker", user_id)
        try:
            runtime.store.register_connection(speaker, owner_id=user_id)
            return speaker
        except NotOwner:
            pass  # someone else's session: a signed-in listener
    listener = _connection(runtime, event, session_id, "listener", user_id)
    runtime.store.register_connection(listener)
    return listener


def on_connect(runtime: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    session_id = session_id_of(event)
    logger.thread_safe_append_keys(sessionId=session_id)
    connection = register(runtime, event, session_id)
    metrics.add_metric(name="Connected", unit=MetricUnit.Count, value=1)
    logger.info("connected", extra={"role": connection.role, "signedIn": connection.userId is not None})
    return responses.handshake_accepted()
