"""`$connect`: parse the handshake, register the connection (session_runtime.connection_lifecycle.connect: one
DynamoDB transaction that checks the session and registers), answer.

No token: an anonymous listener. A token that does not verify (expired, forged, another issuer): refused 401
UNAUTHORIZED, never demoted to a listener. The owner's valid token: the speaker; another user's: a signed-in
listener.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter, ValidationError

from session_protocol import versions
from session_runtime import connection_lifecycle
from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime
from session_schema.errors import InvalidSessionId, ValidationFailed
from session_schema.ids import normalize_session_id
from session_schema.models import CHANNEL_PATTERN, DisplayName

from . import responses


def _query(event: Mapping[str, Any]) -> Mapping[str, str]:
    return event.get("queryStringParameters") or {}


def session_id_of(event: Mapping[str, Any]) -> str:
    raw = _query(event).get("sessionId") or ""
    session_id = normalize_session_id(raw) if isinstance(raw, str) else None
    if session_id is None:
        raise InvalidSessionId(str(raw))
    return session_id


def protocol_version_of(event: Mapping[str, Any]) -> int:
    """The protocol version the connect URL declares (`&v=`); VALIDATION_ERROR naming `v` when malformed (before
    any request: a refused handshake costs nothing)."""
    return versions.declared(_query(event).get(versions.QUERY_PARAMETER))


def channel_of(event: Mapping[str, Any]) -> str | None:
    """The channel the connect URL asks for (`&channel=`), or None; VALIDATION_ERROR naming `channel` when it is
    not a channel name (whether the session declares it is the registration's check: INVALID_CHANNEL)."""
    raw = _query(event).get("channel")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not re.fullmatch(CHANNEL_PATTERN, raw):
        raise ValidationFailed("channel", f"is a channel name matching {CHANNEL_PATTERN}")
    return raw


_DISPLAY_NAME: TypeAdapter[str] = TypeAdapter(DisplayName)


def name_of(event: Mapping[str, Any]) -> str | None:
    """The display name the connect URL gives (`&name=`), or None; VALIDATION_ERROR naming `name` when it is not
    1 to 64 printable characters."""
    raw = _query(event).get("name")
    if raw is None:
        return None
    try:
        return _DISPLAY_NAME.validate_python(raw)
    except ValidationError as error:
        message = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise ValidationFailed("name", message) from None


def handshake_of(event: Mapping[str, Any]) -> connection_lifecycle.Handshake:
    context = event["requestContext"]
    token = _query(event).get("token")
    return connection_lifecycle.Handshake(
        connection_id=context["connectionId"],
        session_id=session_id_of(event),
        token=token if isinstance(token, str) and token else None,
        connected_at=context.get("connectedAt"),
        protocol_version=protocol_version_of(event),
        channel=channel_of(event),
        name=name_of(event),
    )


def on_connect(runtime: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    handshake = handshake_of(event)
    logger.thread_safe_append_keys(sessionId=handshake.session_id)
    connection = connection_lifecycle.connect(runtime, handshake)
    metrics.add_metric(name="Connected", unit=MetricUnit.Count, value=1)
    logger.info("connected", extra={"role": connection.role, "signedIn": connection.userId is not None})
    return responses.handshake_accepted()
