"""The HTTP API's rules the gateway applies around the event (local/apigw/http_api_events.py), without a socket:
the headers API Gateway adds to a request, CORS for an API with a specific origin list, the preflight."""

from __future__ import annotations

import re

from local.apigw.http_api_events import CorsConfig, forwarded_headers, preflight_response, with_cors_headers

LISTED = CorsConfig(allow_origins=("https://app.example",), expose_headers=("apigw-requestid",))


def test_api_gateway_adds_the_forwarded_headers_and_a_trace_id_unless_sent() -> None:
    added = dict(forwarded_headers([("Host", "127.0.0.1:3000")], "203.0.113.7", 3000, now=1_700_000_000))
    assert added["X-Forwarded-For"] == "203.0.113.7" and added["X-Forwarded-Port"] == "3000"
    assert added["X-Forwarded-Proto"] == "http" and added["Host"] == "127.0.0.1:3000"
    assert re.fullmatch(r"Root=1-6553f100-[0-9a-f]{24}", added["X-Amzn-Trace-Id"])
    sent = forwarded_headers([("x-forwarded-for", "198.51.100.1")], "203.0.113.7", 3000)
    assert [v for k, v in sent if k.lower() == "x-forwarded-for"] == ["198.51.100.1"]


def test_cors_headers_for_a_listed_origin_only_and_never_twice() -> None:
    assert with_cors_headers(LISTED, "https://evil.example", [("x-a", "1")]) == [("x-a", "1")]
    assert with_cors_headers(LISTED, None, []) == []
    assert with_cors_headers(LISTED, "https://app.example", []) == [
        ("access-control-allow-origin", "https://app.example"),
        ("access-control-expose-headers", "apigw-requestid"),
    ]
    own = [("Access-Control-Allow-Origin", "https://other.example")]
    assert with_cors_headers(LISTED, "https://app.example", own) == own


def test_preflight_allows_a_listed_origin_and_says_nothing_to_another() -> None:
    allowed = preflight_response(LISTED, "https://app.example")
    headers = dict(allowed.headers)
    assert allowed.status == 204 and allowed.body == b""
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == ",".join(LISTED.allow_methods)
    assert headers["access-control-allow-headers"] == ",".join(h.lower() for h in LISTED.allow_headers)
    assert headers["access-control-max-age"] == str(LISTED.max_age)
    refused = preflight_response(LISTED, "https://evil.example")
    assert refused.status == 204 and [k for k, _ in refused.headers] == ["access-control-max-age"]
