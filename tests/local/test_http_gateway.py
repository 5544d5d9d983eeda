"""The local HTTP gateway's pieces: route matching from HTTP_ROUTES, the v2 event, no authorizer on a token route
(every request reaches the handler, which verifies tokens itself), API Gateway's IAM authorizer on the IAM route
(SigV4 verified against `python -m local credentials`), one request ID for event and response header,
responses, CORS, JWKS. Handlers here are recording fakes, not the real ones."""

from __future__ import annotations

import base64
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from session_schema.routes import HTTP_ROUTES, HttpRoute

from local.apigw.http_api_events import RouteMatch, RouteTable, build_http_event, new_request_id, response_from_result
from local.lambda_service.lambda_pools import HandlerSpec
from tests.support.local_stack import running_local_stack
from tests.support.sigv4 import printed_credentials, signed_post

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


# API Gateway's request IDs (`JKJaXmPLvHcESHA=`): 11 bytes in standard base64, 16 characters.
REQUEST_ID = re.compile(r"^[A-Za-z0-9+/]{15}=$")


def test_request_ids_look_like_api_gateway_s_and_the_event_carries_the_given_one() -> None:
    ids = {new_request_id() for _ in range(200)}
    assert len(ids) == 200 and all(REQUEST_ID.fullmatch(i) for i in ids)
    assert REQUEST_ID.fullmatch("JKJaXmPLvHcESHA=")
    event = build_http_event(
        method="GET", raw_path="/health", raw_query="", headers=[], body=b"",
        source_ip="127.0.0.1", match=_match("/health"), request_id="JKJaXmPLvHcESHA=",
    )
    assert event["requestContext"]["requestId"] == "JKJaXmPLvHcESHA="


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
    handlers = HandlerSpec(http=recorder.http, connection=recorder.connection, sweep=None)
    with running_local_stack(handlers=handlers) as stack:
        yield stack, stack.urls, recorder


def _concrete(route: HttpRoute) -> str:
    return route.path.replace("{sessionId}", "quiet-river-482").replace("{artifactId}", "art_1")


@pytest.mark.parametrize("route", [r for r in HTTP_ROUTES if r.auth_kind == "token"], ids=lambda r: r.route_key)
def test_every_token_route_reaches_the_handler_with_its_authorization_header_and_no_authorizer(gateway, route) -> None:
    """No JWT authorizer in front of any token route, as deployed: the handler gets every request, whatever its
    token (none, garbage, valid), with the header as sent and no `requestContext.authorizer`."""
    stack, urls, recorder = gateway
    recorder.take()
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": f"Bearer {stack.mint('alice')}"}):
        body = {} if route.method in ("POST", "PATCH") else None
        response = requests.request(route.method, urls.http + _concrete(route), headers=headers, json=body, timeout=10)
        assert response.status_code == 200, (headers, response.text)
        assert response.json()["routeKey"] == route.route_key
        (event,) = recorder.take()
        assert "authorizer" not in event["requestContext"]
        assert event["headers"].get("authorization") == headers.get("Authorization")


def test_the_event_carries_the_request_as_sent(gateway) -> None:
    stack, urls, recorder = gateway
    recorder.take()
    token = stack.mint("alice")
    response = requests.post(
        f"{urls.http}/sessions?x=1&x=2", headers={"Authorization": f"Bearer {token}"}, json={"title": "t"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"routeKey": "POST /sessions", "remaining": True}
    (event,) = recorder.take()
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert json.loads(event["body"]) == {"title": "t"} and event["isBase64Encoded"] is False
    assert event["headers"]["authorization"] == f"Bearer {token}"


def test_the_apigw_requestid_header_is_the_event_s_request_id(gateway) -> None:
    """What the handler puts in an error body (requestContext.requestId) is what the header says."""
    _, urls, recorder = gateway
    recorder.take()
    seen = set()
    for _ in range(3):
        response = requests.get(f"{urls.http}/sessions/quiet-river-482", timeout=10)
        (event,) = recorder.take()
        header = response.headers["apigw-requestid"]
        assert header == event["requestContext"]["requestId"] and REQUEST_ID.fullmatch(header)
        seen.add(header)
    assert len(seen) == 3
    # Answers the gateway makes itself (no route, preflight) carry an ID of the same shape.
    assert REQUEST_ID.fullmatch(requests.get(f"{urls.http}/nope", timeout=10).headers["apigw-requestid"])
    assert recorder.take() == []


def test_unknown_route_is_404_like_api_gateway(gateway) -> None:
    _, urls, recorder = gateway
    recorder.take()
    for method, path in (
        ("GET", "/nope"),
        ("PUT", "/sessions"),
        ("GET", "/sessions/a/b/c/d"),
        ("TRACE", "/sessions"),  # methods no route has: not the stdlib's HTML 501
        ("TRACE", "/health"),
        ("PROPFIND", "/sessions/quiet-river-482"),
    ):
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
    # the headers a browser app reads (its error's request ID, when to retry) are exposed, as the CDK API says
    exposed = {h.lower() for h in simple.headers["access-control-expose-headers"].split(",")}
    assert {"apigw-requestid", "retry-after"} <= exposed



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


# -- the IAM route: API Gateway's IAM authorizer --------------------------------------------------------------

IAM_PATH = "/iam/sessions/quiet-river-482/broadcasts"
PUBLISH_BODY = {"events": [{"data": "hello"}]}


def _credentials(stack: Any, role: str = "local-publisher") -> dict[str, str]:
    return printed_credentials(stack.state_dir, role)


def test_local_credentials_are_stable_per_state_dir_and_name_their_role(gateway, tmp_path) -> None:
    stack, _, _ = gateway
    printed = _credentials(stack)
    assert printed == _credentials(stack)
    assert set(printed) == {"accessKeyId", "secretAccessKey", "region", "roleArn"}
    assert printed["roleArn"] == "arn:aws:iam::123456789012:role/local-publisher"
    assert _credentials(stack, "other-role")["accessKeyId"] != printed["accessKeyId"]
    assert printed_credentials(tmp_path)["accessKeyId"] != printed["accessKeyId"]  # another state dir


def test_a_request_signed_with_local_credentials_reaches_the_handler_with_its_signer(gateway) -> None:
    """botocore signs, the gateway verifies, and the handler gets the signer in `requestContext.authorizer.iam`
    with the fields API Gateway's IAM authorizer fills (a session of the role the credentials stand for)."""
    stack, urls, recorder = gateway
    recorder.take()
    credentials = _credentials(stack)
    response = signed_post(urls.http + IAM_PATH, PUBLISH_BODY, credentials)
    assert response.status_code == 200, response.text
    (event,) = recorder.take()
    assert event["routeKey"] == "POST /iam/sessions/{sessionId}/broadcasts"
    iam = event["requestContext"]["authorizer"]["iam"]
    assert set(iam) == {"accessKey", "accountId", "callerId", "cognitoIdentity", "principalOrgId", "userArn", "userId"}
    assert iam["accessKey"] == credentials["accessKeyId"] and iam["accountId"] == "123456789012"
    assert iam["userArn"] == "arn:aws:sts::123456789012:assumed-role/local-publisher/local"
    assert json.loads(event["body"]) == PUBLISH_BODY


def test_the_iam_route_refuses_what_api_gateway_refuses_before_the_handler(gateway) -> None:
    from local.iam.sigv4_check import INVALID_KEY, SIGNATURE_MISMATCH

    stack, urls, recorder = gateway
    recorder.take()
    url = urls.http + IAM_PATH
    credentials = _credentials(stack)
    wrong_secret = {**credentials, "secretAccessKey": credentials["secretAccessKey"][::-1]}
    unknown_key = {**credentials, "accessKeyId": "AKIAUNKNOWNUNKNOWN00"}
    refusals = {
        "unsigned": (requests.post(url, json=PUBLISH_BODY, timeout=10), "Forbidden"),
        "a bearer token": (
            requests.post(url, json=PUBLISH_BODY, headers={"Authorization": f"Bearer {stack.mint('a')}"}, timeout=10),
            None,
        ),
        "wrong secret": (signed_post(url, PUBLISH_BODY, wrong_secret), SIGNATURE_MISMATCH),
        "unknown key": (signed_post(url, PUBLISH_BODY, unknown_key), INVALID_KEY),
        "another body": (signed_post(url, PUBLISH_BODY, credentials, data=b'{"events":[{"data":"evil"}]}'), None),
        "another region": (signed_post(url, PUBLISH_BODY, {**credentials, "region": "eu-west-1"}), None),
        "stale date": (signed_post(url, PUBLISH_BODY, credentials, headers={"X-Amz-Date": "20200101T000000Z"}), None),
    }
    for case, (response, message) in refusals.items():
        assert response.status_code == 403, (case, response.text)
        body = response.json()
        assert set(body) == {"message"}, case
        if message is not None:
            assert body["message"] == message, case
    assert refusals["another body"][0].json()["message"] == SIGNATURE_MISMATCH
    assert refusals["stale date"][0].json()["message"].startswith("Signature expired: 20200101T000000Z")
    assert recorder.take() == []  # none reached the handler
