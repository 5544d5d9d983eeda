"""The WebSocket API's events and answers as API Gateway shapes them (local/apigw/ws_api_events.py), without a
socket: CONNECT with the handshake's headers and query, MESSAGE with a text or binary frame, DISCONNECT
with its close code, the route response and the refused handshake made from a handler's result."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from local.apigw.ws_api_events import (
    ConnectionFacts,
    build_connect_event,
    build_disconnect_event,
    build_message_event,
    handshake_refusal,
    integration_error_reply,
    result_body,
    result_status,
    route_reply,
)

CONN = ConnectionFacts(
    connection_id="L0SM9cOFvHcCIhw=",
    source_ip="203.0.113.7",
    user_agent="listener/1.0",
    domain_name="127.0.0.1:3001",
    connected_at=1_700_000_000_000,
)
NOW = 1_700_000_000_123


def _assert_context(event: dict[str, Any], route_key: str, event_type: str) -> dict[str, Any]:
    ctx = event["requestContext"]
    assert ctx["routeKey"] == route_key and ctx["eventType"] == event_type
    assert ctx["connectionId"] == "L0SM9cOFvHcCIhw=" and ctx["connectedAt"] == 1_700_000_000_000
    assert ctx["requestTimeEpoch"] == NOW and ctx["requestTime"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["identity"] == {"sourceIp": "203.0.113.7", "userAgent": "listener/1.0"}
    assert ctx["domainName"] == "127.0.0.1:3001" and ctx["messageDirection"] == "IN"
    assert ctx["stage"] and ctx["apiId"] and ctx["requestId"] and ctx["extendedRequestId"]
    return ctx


def test_connect_event_carries_the_handshake_headers_and_query() -> None:
    event = build_connect_event(
        CONN,
        "/?sessionId=quiet-river-482&token=t1&tag=a&tag=b",
        [("Host", "127.0.0.1:3001"), ("Sec-WebSocket-Key", "k"), ("X-Multi", "1"), ("X-Multi", "2")],
        now=NOW,
    )
    _assert_context(event, "$connect", "CONNECT")
    assert "messageId" not in event["requestContext"] and "body" not in event
    # Names keep their case; the single-valued map holds the last value, the multi-valued one all of them.
    assert event["headers"]["Host"] == "127.0.0.1:3001" and event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.7"
    assert event["headers"]["X-Forwarded-Port"] == "3001" and event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["queryStringParameters"] == {"sessionId": "quiet-river-482", "token": "t1", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["isBase64Encoded"] is False


def test_connect_event_keeps_forwarded_headers_the_client_sent_and_has_no_query_maps_without_a_query() -> None:
    event = build_connect_event(CONN, "/", [("X-Forwarded-For", "198.51.100.1")], now=NOW)
    assert event["headers"]["X-Forwarded-For"] == "198.51.100.1"
    assert event["multiValueHeaders"]["X-Forwarded-For"] == ["198.51.100.1"]
    assert "queryStringParameters" not in event and "multiValueQueryStringParameters" not in event


def test_message_event_carries_a_text_frame_as_is_and_a_binary_one_in_base64() -> None:
    text = build_message_event(CONN, "broadcast", '{"action":"broadcast","data":{"x":1}}', now=NOW)
    ctx = _assert_context(text, "broadcast", "MESSAGE")
    assert ctx["messageId"]
    assert text["body"] == '{"action":"broadcast","data":{"x":1}}' and text["isBase64Encoded"] is False
    binary = build_message_event(CONN, "$default", b"\x00\xff", now=NOW)
    assert binary["body"] == base64.b64encode(b"\x00\xff").decode() and binary["isBase64Encoded"] is True
    assert binary["requestContext"]["messageId"] != ctx["messageId"]


def test_disconnect_event_carries_the_close_code_or_1006_when_there_was_none() -> None:
    event = build_disconnect_event(CONN, 1001, "Going away", now=NOW)
    ctx = _assert_context(event, "$disconnect", "DISCONNECT")
    assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (1001, "Going away")
    assert event["headers"]["Host"] == "127.0.0.1:3001"
    assert event["multiValueHeaders"]["Host"] == ["127.0.0.1:3001"]
    aborted = build_disconnect_event(CONN, None, "", now=NOW)["requestContext"]
    assert (aborted["disconnectStatusCode"], aborted["disconnectReason"]) == (1006, "")


@pytest.mark.parametrize(
    ("result", "status", "body"),
    [
        ({"statusCode": 200, "body": '{"type":"pong"}'}, 200, '{"type":"pong"}'),
        ({"statusCode": 201, "body": {"a": 1}}, 201, '{"a": 1}'),
        ({"statusCode": 200, "body": base64.b64encode(b"hi").decode(), "isBase64Encoded": True}, 200, "hi"),
        ({"statusCode": 204, "body": ""}, 204, None),
        ({"statusCode": "410"}, 410, None),
        ({"type": "pong"}, 200, '{"type": "pong"}'),  # no statusCode: the whole value is the body
        ("plain", 200, "plain"),
        (None, 200, None),
    ],
)
def test_result_status_and_body(result: Any, status: int, body: str | None) -> None:
    assert result_status(result) == status
    assert result_body(result) == body


def test_only_routes_with_a_route_response_reply() -> None:
    result = {"statusCode": 200, "body": '{"type":"pong"}'}
    assert route_reply("ping", result) == '{"type":"pong"}'
    assert route_reply("$default", result) == '{"type":"pong"}'
    assert route_reply("$connect", result) is None and route_reply("$disconnect", result) is None


def test_a_failed_integration_replies_with_api_gateway_s_frame() -> None:
    event = build_message_event(CONN, "ping", '{"action":"ping"}', now=NOW)
    reply = json.loads(integration_error_reply(event))
    assert reply == {
        "message": "Internal server error",
        "connectionId": "L0SM9cOFvHcCIhw=",
        "requestId": event["requestContext"]["requestId"],
    }


def test_a_refused_handshake_carries_the_status_and_the_handler_s_body() -> None:
    body = '{"error":{"code":"SESSION_ENDED","message":"session quiet-river-482 has ended"}}'
    refused = handshake_refusal(410, body)
    assert (refused.status_code, refused.reason_phrase, refused.body) == (410, "Gone", body.encode())
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["Content-Length"] == str(len(body.encode()))
    assert refused.headers["Connection"] == "close"
    text = handshake_refusal(599, "nope")
    assert (text.reason_phrase, text.headers["Content-Type"]) == ("Error", "text/plain; charset=utf-8")
    assert handshake_refusal(403, None).body == b""


def test_request_ids_differ_per_event() -> None:
    ids = {build_message_event(CONN, "ping", "{}", now=NOW)["requestContext"]["requestId"] for _ in range(50)}
    assert len(ids) == 50 and all(re.fullmatch(r"[0-9a-f]{16}=", i) for i in ids)
