"""API Gateway HTTP API (payload format 2.0) events, shaped like the ones API Gateway sends a Lambda.

`http_event("POST", "/sessions", body={...}, user="alice")` is what API Gateway delivers when alice
calls with her token: a real token, minted by the shared test issuer (`shared_issuer()`, the one the
`runtime` fixture's verifier trusts), in the `Authorization: Bearer` header. No route has an authorizer
(infra/http_api.py), so no event carries `requestContext.authorizer`: the handler verifies the header
itself, exactly as deployed. `token=` sends a given token instead (a forged or expired one, say).
The route key is the table's (`POST /sessions/{sessionId}`), found from the concrete path, so the event
carries exactly what API Gateway would put there.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, urlencode

from session_schema.routes import HTTP_ROUTES

API_ID = "a1b2c3d4e5"
ACCOUNT_ID = "123456789012"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
ISSUER_URL = "http://127.0.0.1:9/test-issuer"  # JWT_ISSUER of the tests' handlers (tests/conftest.py)
AUDIENCE = "test-client"  # JWT_AUDIENCE


@cache
def shared_issuer() -> Any:
    """The RS256 issuer standing in for Cognito in handler tests: one key pair for the whole run."""
    from local.cognito.issuer import LocalIssuer

    return LocalIssuer(ISSUER_URL, AUDIENCE)


def _template_regex(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


def match_route(method: str, raw_path: str) -> tuple[str, dict[str, str]]:
    """(routeKey, pathParameters) API Gateway would give this request; `$default` when no route matches."""
    for route in HTTP_ROUTES:
        found = _template_regex(route.path).match(raw_path)
        if route.method == method and found:
            return route.route_key, {k: unquote(v) for k, v in found.groupdict().items()}
    return "$default", {}


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    raw_body: str | bytes | None = None,
    user: str | None = None,
    token: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    """One v2 event. `body` is JSON-encoded; `raw_body` is sent as is; `token` adds `authorization`;
    `user` adds `authorization` with a valid token for that user (from `shared_issuer()`)."""
    if user is not None and token is not None:
        raise ValueError("pass user= (a valid token for them) or token=, not both")
    route_key, path_parameters = match_route(method, path.split("?")[0])
    request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
    now = time.time()
    all_headers = {
        "accept": "application/json",
        "content-length": "0",
        "host": DOMAIN,
        "user-agent": "pytest/1.0",
        "x-amzn-trace-id": f"Root=1-{int(now):x}-{uuid.uuid4().hex[:24]}",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    text: str | None = None
    if raw_body is not None:
        text = raw_body if isinstance(raw_body, str) else raw_body.decode("latin-1")
    elif body is not None:
        text = json.dumps(body)
    if text is not None:
        data = text.encode("latin-1" if isinstance(raw_body, bytes) else "utf-8")
        all_headers["content-length"] = str(len(data))
        if content_type:
            all_headers["content-type"] = content_type
        if base64_body or isinstance(raw_body, bytes):
            text = base64.b64encode(data).decode()
            base64_body = True
    if user is not None:
        token = shared_issuer().mint(user)
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": DOMAIN,
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "pytest/1.0",
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": urlencode(query or {}, quote_via=quote),
        "headers": all_headers,
        "requestContext": request_context,
        "isBase64Encoded": base64_body,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = path_parameters
    if text is not None:
        event["body"] = text
    return event


@dataclass
class FakeLambdaContext:
    function_name: str = "live-sessions-http"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:live-sessions-http"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/live-sessions-http"
    log_stream_name: str = "2026/01/01/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    raw_body: str | None

    @property
    def body(self) -> Any:
        return json.loads(self.raw_body) if self.raw_body else None

    @property
    def error(self) -> dict[str, Any]:
        return self.body["error"]


def answer_of(response: dict[str, Any]) -> HttpAnswer:
    """The v2 response dict as a client sees it (base64 bodies decoded)."""
    body = response.get("body")
    if body is not None and response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return HttpAnswer(int(response["statusCode"]), dict(response.get("headers") or {}), body or None)
