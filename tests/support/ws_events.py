"""API Gateway WebSocket events as Lambda receives them (CONNECT / DISCONNECT / MESSAGE), for tests.

The shapes follow what API Gateway sends a Lambda proxy integration: `requestContext` with routeKey,
eventType, connectionId, connectedAt..., CONNECT with headers and the query string, DISCONNECT with the
close code and reason, MESSAGE with the frame as a string `body`.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

API_ID = "abc123defg"
STAGE = "test"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"


def new_connection_id() -> str:
    """API Gateway connection IDs look like `L0SM9cOFvHcCIhw=`."""
    return secrets.token_urlsafe(10)[:13].replace("-", "A").replace("_", "B") + "w="


def _request_id() -> str:
    return secrets.token_urlsafe(12)[:16] + "="


def _request_context(route_key: str, event_type: str, connection_id: str, connected_at: int | None) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    request_id = _request_id()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": connected_at if connected_at is not None else now_ms,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "test-client/1.0"},
        "requestId": request_id,
        "domainName": DOMAIN,
        "connectionId": connection_id,
        "apiId": API_ID,
    }


def connect_event(connection_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {
        "Host": DOMAIN,
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "X-Amzn-Trace-Id": "Root=1-65c66c8f-3b0e9d7c1f2a4b5c6d7e8f90",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "requestContext": _request_context("$connect", "CONNECT", connection_id, None),
        "isBase64Encoded": False,
    }


def disconnect_event(connection_id: str, status_code: int = 1001, reason: str = "Going away") -> dict[str, Any]:
    headers = {"Host": DOMAIN, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    context = _request_context("$disconnect", "DISCONNECT", connection_id, None)
    context |= {"disconnectStatusCode": status_code, "disconnectReason": reason}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def message_event(connection_id: str, body: Any, route_key: str | None = None) -> dict[str, Any]:
    """A MESSAGE event. `body` a dict is sent as JSON; a str is sent as is (for bad frames).

    The route is chosen like API Gateway does with `$request.body.action`: the action when it names a
    route, else `$default`; pass `route_key` to force one.
    """
    from session_schema.routes import WS_ACTIONS

    text = body if isinstance(body, str) else json.dumps(body)
    if route_key is None:
        action = body.get("action") if isinstance(body, dict) else None
        route_key = action if isinstance(action, str) and action in WS_ACTIONS else "$default"
    context = _request_context(route_key, "MESSAGE", connection_id, int(time.time() * 1000) - 1000)
    context["messageId"] = secrets.token_urlsafe(9)[:12] + "="
    return {"requestContext": context, "body": text, "isBase64Encoded": False}
