"""The local HTTP gateway's pieces: route matching from HTTP_ROUTES, the v2 event, the JWT authorizer
(401 before the handler), responses, CORS, JWKS. Handlers here are recording fakes, not the real ones."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from session_schema.routes import HTTP_ROUTES, HttpRoute

from local.http_gateway import RouteMatch, RouteTable, build_http_event, response_from_result, stringify_claims
from local.issuer import LocalIssuer
from local.lambdas import HandlerSpec
from local.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]


# -- route matching ----------------------------------------------------------------------------------------


def _sample_path(route: HttpRoute) -> tuple[str, dict[str, str]]:
    params: dict[str, str] = {}
    parts = []
    for segment in route.path.strip("/").split("/"):
        if segment.startswith("{"):
            name = segment.strip("{}")
            params[name] = f"{name}-value-1"
            parts.append(params[name])
        else:
            parts.append(segment)
    return "/" + "/".join(parts), params


@pytest.mark.parametrize("route", HTTP_ROUTES, ids=lambda r: r.route_key)
def test_every_declared_route_matches_with_its_path_parameters(route: HttpRoute) -> None:
    path, params = _sample_path(route)
    match = RouteTable().match(route.method, path)
    assert match is not None
    assert match.route == route
    assert match.path_parameters == params


def test_unknown_paths_methods_and_trailing_slashes_do_not_match() -> None:
    table = RouteTable()
    assert table.match("GET", "/nope") is None
    assert table.match("PUT", "/sessions") is None
    assert table.match("GET", "/sessions/") is None
    assert table.match("GET", "/sessions/a/b/c/d") is None
    assert table.match("HEAD", "/health") is None


def test_literal_routes_win_over_parameters_and_parameters_are_decoded() -> None:
    table = RouteTable(
        (HttpRoute("GET", "/sessions/{sessionId}", auth=False), HttpRoute("GET", "/sessions/mine", auth=True))
    )
    assert table.match("GET", "/sessions/mine").route.path == "/sessions/mine"
    match = table.match("GET", "/sessions/quiet%20river")
    assert match is not None and match.path_parameters == {"sessionId": "quiet river"}


# -- the event ---------------------------------------------------------------------------------------------


def _match(path: str = "/sessions/{sessionId}", method: str = "GET", **params: str) -> RouteMatch:
    return RouteMatch(HttpRoute(method, path, auth=False), params)


def test_event_is_payload_format_2() -> None:
    event = build_http_event(
        method="GET",
        raw_path="/sessions/quiet-river-482",
        raw_query="limit=5&tag=a&tag=b&empty=",
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("X-Multi", "1"),
            ("x-multi", "2"),
            ("Cookie", "a=1; b=2"),
            ("User-Agent", "ua"),
        ],
        body=b"",
        source_ip="127.0.0.1",
        match=_match(sessionId="quiet-river-482"),
        now=1_700_000_000.123,
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /sessions/{sessionId}"
    assert event["rawPath"] == "/sessions/quiet-river-482"
    assert event["rawQueryString"] == "limit=5&tag=a&tag=b&empty="
    assert event["queryStringParameters"] == {"limit": "5", "tag": "a,b", "empty": ""}
    assert event["pathParameters"] == {"sessionId": "quiet-river-482"}
    assert event["headers"]["x-multi"] == "1,2" and "Host" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False and "body" not in event
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "GET",
        "path": "/sessions/quiet-river-482",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "ua",
    }
    assert ctx["stage"] == "$default" and ctx["routeKey"] == event["routeKey"]
    assert ctx["timeEpoch"] == 1_700_000_000_123 and ctx["time"] == "14/Nov/2023:22:13:20 +0000"
    assert ctx["domainName"] == "127.0.0.1:3000" and ctx["requestId"]
    assert "authorizer" not in ctx


def test_event_body_text_or_base64_by_content_type() -> None:
    def body_of(content_type: str | None, body: bytes) -> tuple[Any, Any]:
        headers = [("Content-Type", content_type)] if content_type else []
        event = build_http_event(
            method="POST", raw_path="/sessions", raw_query="", headers=headers, body=body,
            source_ip="127.0.0.1", match=_match("/sessions", "POST"),
        )
        return event.get("body"), event["isBase64Encoded"]

    assert body_of("application/json; charset=utf-8", b'{"a":1}') == ('{"a":1}', False)
    assert body_of("text/plain", "é".encode()) == ("é", False)
    assert body_of("image/png", b"\x89PNG") == (base64.b64encode(b"\x89PNG").decode(), True)
    assert body_of(None, b"x=1") == (base64.b64encode(b"x=1").decode(), True)


def test_claims_are_strings_like_the_jwt_authorizer_passes_them() -> None:
    assert stringify_claims({"exp": 5, "groups": ["a", "b"], "ok": True, "sub": "u"}) == {
        "exp": "5",
        "groups": "[a b]",
        "ok": "true",
        "sub": "u",
    }


def test_response_rules() -> None:
    full = response_from_result(
        {
            "statusCode": 201,
            "headers": {"x-a": "1"},
            "cookies": ["c=1"],
            "body": base64.b64encode(b"\x00").decode(),
            "isBase64Encoded": True,
        }
    )
    assert (full.status, full.body) == (201, b"\x00")
    assert ("x-a", "1") in full.headers and ("set-cookie", "c=1") in full.headers
    inferred = response_from_result({"hello": "world"})
    assert inferred.status == 200 and json.loads(inferred.body) == {"hello": "world"}
    with pytest.raises(ValueError):
        response_from_result({"statusCode": "abc"})


# -- through a running gateway -----------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def http(self, event: dict[str, Any], context: Any) -> Any:
        with self.lock:
            self.events.append(event)
        if event["rawPath"] == "/sessions/boom":
            raise RuntimeError("handler crashed")
        if event["rawPath"] == "/sessions/plain":
            return {"ok": 1}
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-handler": "yes"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": json.dumps(
                {"routeKey": event["routeKey"], "remaining": context.get_remaining_time_in_millis() > 0}
            ),
        }

    def connection(self, event: dict[str, Any], context: Any) -> Any:
        return {"statusCode": 200}

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.events = self.events, []
        return events


@pytest.fixture(scope="module")
def gateway():
    recorder = Recorder()
    stack = LocalStack(
        http_port=0,
        ws_port=0,
        state_dir=None,
        sweep_interval=None,
        handlers=HandlerSpec(http=recorder.http, connection=recorder.connection, sweep=None),
    )
    urls = stack.start()
    try:
        yield stack, urls, recorder
    finally:
        stack.stop()


def test_auth_route_without_or_with_a_bad_token_is_refused_before_the_handler(gateway) -> None:
    stack, urls, recorder = gateway
    recorder.take()
    stranger = LocalIssuer(stack.issuer.issuer, stack.issuer.audience)  # same issuer URL, another key
    bad_headers = [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer " + stranger.mint("mallory")},
        {"Authorization": "Bearer " + stack.mint("alice", exp=int(time.time()) - 3600)},
        {"Authorization": "Bearer " + stack.mint("alice", aud="another-client")},
        {"Authorization": "Bearer " + stack.mint("alice", iss="http://127.0.0.1:1/elsewhere")},
    ]
    for headers in bad_headers:
        response = requests.post(f"{urls.http}/sessions", headers=headers, json={}, timeout=10)
        assert response.status_code == 401, headers
        assert response.json() == {"message": "Unauthorized"}
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert recorder.take() == []


def test_auth_route_with_a_valid_token_reaches_the_handler_with_claims(gateway) -> None:
    stack, urls, recorder = gateway
    recorder.take()
    token = stack.mint("alice", extra_claims={"cognito:groups": ["a", "b"]})
    response = requests.post(
        f"{urls.http}/sessions?x=1&x=2", headers={"Authorization": f"Bearer {token}"}, json={"title": "t"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"routeKey": "POST /sessions", "remaining": True}
    (event,) = recorder.take()
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "alice" and claims["aud"] == "local-client" and claims["cognito:groups"] == "[a b]"
    assert claims["iss"] == urls.issuer
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert json.loads(event["body"]) == {"title": "t"} and event["isBase64Encoded"] is False
    assert event["headers"]["authorization"] == f"Bearer {token}"


def test_access_tokens_pass_the_authorizer_too(gateway) -> None:
    stack, urls, recorder = gateway
    token = stack.mint("alice", token_use="access")
    response = requests.get(f"{urls.http}/sessions", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200
    (event,) = recorder.take()
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["aws.cognito.signin.user.admin"]


def test_public_route_passes_the_header_to_the_handler_without_an_authorizer(gateway) -> None:
    stack, urls, recorder = gateway
    recorder.take()
    response = requests.get(
        f"{urls.http}/sessions/quiet-river-482/messages?since=5", headers={"Authorization": "Bearer junk"}, timeout=10
    )
    assert response.status_code == 200
    (event,) = recorder.take()
    assert event["routeKey"] == "GET /sessions/{sessionId}/messages"
    assert event["pathParameters"] == {"sessionId": "quiet-river-482"}
    assert "authorizer" not in event["requestContext"]
    assert event["headers"]["authorization"] == "Bearer junk"


def test_unknown_route_is_404_like_api_gateway(gateway) -> None:
    _, urls, recorder = gateway
    recorder.take()
    for method, path in (("GET", "/nope"), ("PUT", "/sessions"), ("GET", "/sessions/a/b/c/d")):
        response = requests.request(method, urls.http + path, timeout=10)
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}
    assert recorder.take() == []


def test_handler_response_is_returned_as_is(gateway) -> None:
    _, urls, _ = gateway
    response = requests.get(f"{urls.http}/health", timeout=10)
    assert response.headers["x-handler"] == "yes"
    assert response.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]
    inferred = requests.get(f"{urls.http}/sessions/plain", timeout=10)
    assert inferred.status_code == 200 and inferred.json() == {"ok": 1}


def test_handler_crash_is_api_gateway_500(gateway) -> None:
    _, urls, _ = gateway
    response = requests.get(f"{urls.http}/sessions/boom", timeout=10)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_cors_preflight_and_headers(gateway) -> None:
    _, urls, recorder = gateway
    recorder.take()
    response = requests.options(
        f"{urls.http}/sessions",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
        timeout=10,
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.headers["access-control-allow-headers"].split(",")) == {
        "authorization",
        "content-type",
        "idempotency-key",
    }
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert recorder.take() == []  # the preflight never reaches the handler
    simple = requests.get(f"{urls.http}/health", headers={"Origin": "http://localhost:5173"}, timeout=10)
    assert simple.headers["access-control-allow-origin"] == "*"


def test_jwks_is_served_under_the_issuer(gateway) -> None:
    stack, urls, _ = gateway
    response = requests.get(f"{urls.issuer}/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200
    assert response.json() == stack.issuer.jwks()


def test_body_limit(gateway) -> None:
    """A declared length over API Gateway's 10 MB is refused before the body is read."""
    import http.client
    from urllib.parse import urlsplit

    _, urls, recorder = gateway
    recorder.take()
    target = urlsplit(urls.http)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    conn.putrequest("POST", "/health")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {"message": "Request Entity Too Large"}
    conn.close()
    assert recorder.take() == []
