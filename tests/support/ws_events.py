"""API Gateway WebSocket events as Lambda receives them (CONNECT / DISCONNECT / MESSAGE), for tests.

Built by the local WebSocket gateway's own builders (local/apigw/ws_api_events.py), so a handler test
gets exactly the event the local stack delivers: `requestContext` with routeKey, eventType,
connectionId, connectedAt..., CONNECT with headers and the query string, DISCONNECT with the close code
and reason, MESSAGE with the frame as a string `body` on the route `$request.body.action` selects.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from local.apigw.common import new_apigw_id as new_connection_id
from local.apigw.ws_api_events import (
    ConnectionFacts,
    build_connect_event,
    build_disconnect_event,
    build_message_event,
    select_route,
)

__all__ = ["connect_event", "disconnect_event", "message_event", "new_connection_id"]

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


def connect_event(
    connection_id: str, query: dict[str, str] | None = None, connected_ago_ms: int = 0
) -> dict[str, Any]:
    """A CONNECT event; `connected_ago_ms`: how long before now the client opened the socket (`connectedAt`)."""
    path = f"/?{urlencode(query)}" if query else "/"
    return build_connect_event(_connection(connection_id, connected_ago_ms), path, _HANDSHAKE_HEADERS)


def disconnect_event(connection_id: str, status_code: int = 1001, reason: str = "Going away") -> dict[str, Any]:
    return build_disconnect_event(_connection(connection_id), status_code, reason)


def message_event(connection_id: str, body: Any, route_key: str | None = None) -> dict[str, Any]:
    """A MESSAGE event. `body` a dict is sent as JSON; a str is sent as is (for bad frames).

    The route is chosen as API Gateway does with `$request.body.action` (`select_route`); pass `route_key`
    to force one.
    """
    text = body if isinstance(body, str) else json.dumps(body)
    return build_message_event(_connection(connection_id, connected_ago_ms=1000), route_key or select_route(text), text)
