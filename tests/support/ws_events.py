"""API Gateway WebSocket events as Lambda receives them (CONNECT / DISCONNECT / MESSAGE), for tests.

Built by the local WebSocket gateway's own builders (local/apigw/ws_api_events.py), so a handler test
gets exactly the event the local stack delivers: `requestContext` with routeKey, eventType,
connectionId, connectedAt..., CONNECT with headers and the query string, DISCONNECT with the close code
and reason, MESSAGE with the frame as a string `body` on the route `$request.body.action` selects.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import urlencode

from session_schema.disconnect_message import message_body

from local.apigw.common import new_apigw_id as new_connection_id
from local.apigw.ws_api_events import (
    ConnectionFacts,
    build_connect_event,
    build_disconnect_event,
    build_message_event,
    select_route,
)

__all__ = [
    "connect_event",
    "disconnect_event",
    "disconnect_message",
    "disconnect_queue_event",
    "message_event",
    "new_connection_id",
]
DISCONNECT_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:LiveSessions-dev-DisconnectQueue"

DOMAIN = "abc123defg.execute-api.us-east-1.amazonaws.com"
_HANDSHAKE_HEADERS = (
    ("Host", DOMAIN),
    ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
    ("X-Amzn-Trace-Id", "Root=1-65c66c8f-3b0e9d7c1f2a4b5c6d7e8f90"),
    ("X-Forwarded-For", "203.0.113.7"),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Proto", "https"),
)


def _connection(connection_id: str, connected_ago_ms: int = 0) -> ConnectionFacts:
    facts = ConnectionFacts(connection_id, source_ip="203.0.113.7", user_agent="test-client/1.0", domain_name=DOMAIN)
    facts.connected_at -= connected_ago_ms
    return facts


def connect_event(connection_id: str, query: dict[str, str] | None = None, connected_ago_ms: int = 0) -> dict[str, Any]:
    """A CONNECT event; `connected_ago_ms`: how long before now the client opened the socket (`connectedAt`)."""
    path = f"/?{urlencode(query)}" if query else "/"
    return build_connect_event(_connection(connection_id, connected_ago_ms), path, _HANDSHAKE_HEADERS)


def disconnect_event(connection_id: str, status_code: int = 1001, reason: str = "Going away") -> dict[str, Any]:
    return build_disconnect_event(_connection(connection_id), status_code, reason)


def disconnect_message(connection_id: str, status_code: int = 1001, reason: str = "Going away") -> str:
    """The disconnect queue's message body for a `$disconnect` (what the route's request template sends)."""
    return message_body(disconnect_event(connection_id, status_code, reason)["requestContext"])


def disconnect_queue_event(*bodies: str) -> dict[str, Any]:
    """The disconnect queue's batch as Lambda's SQS event source mapping hands it to the function."""
    return {"Records": [_sqs_record(body) for body in bodies]}


def _sqs_record(body: str) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id.replace('-', '')}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1736200000000",
            "SenderId": "AROAEXAMPLEROLEID:BackplaneAssumeRoleSession",  # API Gateway's integration role
            "ApproximateFirstReceiveTimestamp": "1736200000010",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": DISCONNECT_QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def message_event(connection_id: str, body: Any, route_key: str | None = None) -> dict[str, Any]:
    """A MESSAGE event. `body` a dict is sent as JSON; a str is sent as is (for bad frames).

    The route is chosen as API Gateway does with `$request.body.action` (`select_route`); pass `route_key`
    to force one.
    """
    text = body if isinstance(body, str) else json.dumps(body)
    return build_message_event(_connection(connection_id, connected_ago_ms=1000), route_key or select_route(text), text)
