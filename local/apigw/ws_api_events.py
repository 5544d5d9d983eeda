"""API Gateway's WebSocket API as pure functions: what the local WebSocket gateway (local/apigw/ws_gateway.py)
turns a handshake, a frame and a close into (CONNECT, MESSAGE and DISCONNECT events), and what it does
with the handler's result (a refused handshake, a route response).

- `$request.body.action` route selection against `session_schema.routes.WS_ROUTES` (unknown, missing or
  unparsable -> `$default`);
- CONNECT carries the handshake's headers and query string, both single- and multi-valued;
- DISCONNECT carries the close code (1006 when there was none) and reason;
- a `$connect` answered with a non-2xx status refuses the handshake with that status and the handler's body.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Response

from session_schema.routes import WS_ROUTE_SELECTION_EXPRESSION, WS_ROUTES

from .common import epoch_ms, request_time

API_ID = "localws"
STAGE = "local"

CONNECT, DISCONNECT, DEFAULT = "$connect", "$disconnect", "$default"
_ROUTES = {route.route_key: route for route in WS_ROUTES}
_SELECTABLE = {key for key in _ROUTES if not key.startswith("$")}
assert WS_ROUTE_SELECTION_EXPRESSION == "$request.body.action", "the local gateway selects routes by body.action"


def select_route(frame: str | bytes) -> str:
    """`$request.body.action` route selection: the action's route if there is one, else `$default`."""
    if isinstance(frame, bytes):
        return DEFAULT
    try:
        body = json.loads(frame)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser recurses
        return DEFAULT
    action = body.get("action") if isinstance(body, dict) else None
    return action if isinstance(action, str) and action in _SELECTABLE else DEFAULT


@dataclass
class ConnectionFacts:
    """What every event of one connection says about it (its `requestContext`'s identity and times)."""

    connection_id: str
    source_ip: str
    user_agent: str
    domain_name: str
    connected_at: int = field(default_factory=epoch_ms)


def _new_request_id() -> str:
    return uuid.uuid4().hex[:16] + "="


def request_context(conn: ConnectionFacts, route_key: str, event_type: str, now: int) -> dict[str, Any]:
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": _new_request_id(),
        "requestTime": request_time(now / 1000),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": conn.connected_at,
        "requestTimeEpoch": now,
        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        "requestId": _new_request_id(),
        "domainName": conn.domain_name,
        "connectionId": conn.connection_id,
        "apiId": API_ID,
    }


def build_connect_event(
    conn: ConnectionFacts, path: str, headers: Iterable[tuple[str, str]], now: int | None = None
) -> dict[str, Any]:
    """The `$connect` event of a handshake: `path` is the request target (with its query string), `headers`
    the handshake's as sent (names keep their case, as API Gateway passes them)."""
    now = epoch_ms() if now is None else now
    single: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi_headers.setdefault(name, []).append(value)
    for name, value in (
        ("X-Forwarded-For", conn.source_ip),
        ("X-Forwarded-Port", conn.domain_name.rpartition(":")[2] or "443"),
        ("X-Forwarded-Proto", "http"),
    ):
        single.setdefault(name, value)
        multi_headers.setdefault(name, [value])
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi_headers}
    query = urlsplit(path).query
    if query:
        params: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            params[name] = value  # API Gateway keeps the last value in the single-valued map
            multi.setdefault(name, []).append(value)
        event["queryStringParameters"] = params
        event["multiValueQueryStringParameters"] = multi
    event["requestContext"] = request_context(conn, CONNECT, "CONNECT", now)
    event["isBase64Encoded"] = False
    return event


def build_message_event(
    conn: ConnectionFacts, route_key: str, frame: str | bytes, now: int | None = None
) -> dict[str, Any]:
    """The event of one frame on its selected route: a text frame as the body, a binary one in base64."""
    context = request_context(conn, route_key, "MESSAGE", epoch_ms() if now is None else now)
    context["messageId"] = _new_request_id()
    if isinstance(frame, bytes):
        return {"requestContext": context, "body": base64.b64encode(frame).decode(), "isBase64Encoded": True}
    return {"requestContext": context, "body": frame, "isBase64Encoded": False}


def build_disconnect_event(
    conn: ConnectionFacts, code: int | None, reason: str, now: int | None = None
) -> dict[str, Any]:
    context = request_context(conn, DISCONNECT, "DISCONNECT", epoch_ms() if now is None else now)
    context["disconnectStatusCode"] = code if code is not None else 1006
    context["disconnectReason"] = reason or ""
    headers = {"Host": conn.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def result_status(result: Any) -> int:
    """The status of a handler's result: its `statusCode`, else 200."""
    if isinstance(result, Mapping) and "statusCode" in result:
        return int(result["statusCode"])
    return 200


def result_body(result: Any) -> str | None:
    """The text a handler's result sends back (a route response, a refused handshake's body), or None."""
    if isinstance(result, Mapping):
        if "statusCode" not in result:
            return json.dumps(result, allow_nan=False)
        body = result.get("body")
        if body is None or body == "":
            return None
        if result.get("isBase64Encoded") and isinstance(body, str):
            return base64.b64decode(body).decode("utf-8", "replace")
        return body if isinstance(body, str) else json.dumps(body, allow_nan=False)
    if result is None:
        return None
    return result if isinstance(result, str) else json.dumps(result, allow_nan=False)


def route_reply(route_key: str, result: Any) -> str | None:
    """What the client receives after a frame: the result's body, for a route with a route response."""
    return result_body(result) if _ROUTES[route_key].returns_response else None


def integration_error_reply(event: Mapping[str, Any]) -> str:
    """API Gateway's frame for a route whose integration failed (the handler raised, crashed, timed out)."""
    ctx = event["requestContext"]
    reply = {"message": "Internal server error", "connectionId": ctx["connectionId"], "requestId": ctx["requestId"]}
    return json.dumps(reply, allow_nan=False)


CONNECT_FAILED_BODY = json.dumps({"message": "Internal server error"}, allow_nan=False)


def result_retry_after(result: Any) -> str | None:
    """The `Retry-After` header a handler's result sets (a full session's refused handshake), or None."""
    headers = result.get("headers") if isinstance(result, Mapping) else None
    value = headers.get("Retry-After") if isinstance(headers, Mapping) else None
    return str(value) if value is not None else None


def handshake_refusal(status: int, body: str | None, retry_after: str | None = None) -> Response:
    """The HTTP answer to a handshake whose `$connect` returned a non-2xx status (with its `Retry-After`)."""
    payload = (body or "").encode()
    content_type = "application/json" if payload[:1] in (b"{", b"[") else "text/plain; charset=utf-8"
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    headers = Headers([("Connection", "close"), ("Content-Length", str(len(payload))), ("Content-Type", content_type)])
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Response(status, phrase, headers, payload)
