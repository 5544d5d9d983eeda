"""API Gateway HTTP API (payload format 2.0) events, shaped like the ones API Gateway sends a Lambda.

`http_event("POST", "/sessions", body={...}, user="alice")` is what API Gateway delivers when alice
calls with her token: a real token, minted by the shared test issuer (`shared_issuer()`, the one the
`runtime` fixture's verifier trusts), in the `Authorization: Bearer` header. No route has an authorizer
(infra/http_api.py), so no event carries `requestContext.authorizer`: the handler verifies the header
itself, exactly as deployed. `token=` sends a given token instead (a forged or expired one, say).
The route key (`POST /sessions/{sessionId}`) and path parameters are API Gateway's pick for the concrete path
(`session_schema.routes.match_route`), and the local HTTP gateway's builder (local/apigw/http_api_events.py)
shapes the event.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from session_schema.routes import HttpRoute, RouteMatch, match_route

from local.apigw.http_api_events import build_http_event

API_ID = "a1b2c3d4e5"
ACCOUNT_ID = "123456789012"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
ISSUER_URL = "http://127.0.0.1:9/test-issuer"  # JWT_ISSUER of the tests' handlers (tests/conftest.py)
AUDIENCE = "test-client"  # JWT_AUDIENCE
SOURCE_IP = "198.51.100.7"


@cache
def shared_issuer() -> Any:
    """The RS256 issuer standing in for Cognito in handler tests: one key pair for the whole run."""
    from local.cognito.issuer import LocalIssuer

    return LocalIssuer(ISSUER_URL, AUDIENCE)


# API Gateway's catch-all route: what a request no route matches is delivered on when a `$default` route exists
# (the deployed API has none; the local gateway answers 404 itself), for the handler's own not-found answers.
_CATCH_ALL = RouteMatch(HttpRoute("ANY", "/{proxy+}", auth=False), {})


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
    """One v2 event, built by the local gateway's own builder. `body` is JSON-encoded; `raw_body` is sent as
    is (bytes base64-encoded, as API Gateway sends a binary body); `base64_body` sends any body base64-encoded;
    `token` adds `authorization`; `user` adds `authorization` with a valid token for that user."""
    if user is not None and token is not None:
        raise ValueError("pass user= (a valid token for them) or token=, not both")
    now = time.time()
    all_headers = {
        "accept": "application/json",
        "content-length": "0",
        "host": DOMAIN,
        "user-agent": "pytest/1.0",
        "x-amzn-trace-id": f"Root=1-{int(now):x}-{uuid.uuid4().hex[:24]}",
        "x-forwarded-for": SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    data = b""
    if raw_body is not None:
        data = raw_body.encode() if isinstance(raw_body, str) else raw_body
    elif body is not None:
        data = json.dumps(body).encode()
    if raw_body is not None or body is not None:
        all_headers["content-length"] = str(len(data))
        if content_type:
            all_headers["content-type"] = content_type
    if user is not None:
        token = shared_issuer().mint(user)
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    match = match_route(method, path.split("?")[0])
    event = build_http_event(
        method=method,
        raw_path=path,
        raw_query=urlencode(query or {}, quote_via=quote),
        headers=all_headers.items(),
        body=data,
        source_ip=SOURCE_IP,
        match=match or _CATCH_ALL,
        now=now,
    )
    if match is None:
        event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    if data and (base64_body or isinstance(raw_body, bytes)) and not event["isBase64Encoded"]:
        event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
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
