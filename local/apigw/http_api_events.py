"""API Gateway's HTTP API (payload format 2.0) as pure functions: what the local HTTP gateway
(local/apigw/http_gateway.py) does with a request it has read, and with the handler's result.

- the route table it serves (`session_schema.routes.HTTP_ROUTES`, matched by `session_schema.routes.match_route`);
- the v2 event of one request (no `authorizer` block on a "token" route, the handler verifies the token; on
  an "iam" route the signer the gateway verified, in `authorizer.iam` as API Gateway's IAM authorizer puts it);
- the response for a handler's result (including the inference API Gateway applies to a result that is
  not a `{"statusCode": ...}` object);
- CORS as the deployed HTTP API's configuration answers it: the preflight, and the headers added to
  every response.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from session_schema.routes import (
    HTTP_CORS_ALLOW_HEADERS,
    HTTP_CORS_ALLOW_METHODS,
    HTTP_CORS_ALLOW_ORIGINS,
    HTTP_CORS_EXPOSE_HEADERS,
    HTTP_CORS_MAX_AGE_SECONDS,
    HTTP_ROUTES,
    HttpRoute,
    RouteMatch,
    match_route,
)

from local.http_response import HttpResponse

from .common import new_apigw_id as new_request_id
from .common import request_time

ACCOUNT_ID = "123456789012"
API_ID = "localhttp"
STAGE = "$default"


@dataclass(frozen=True)
class CorsConfig:
    """The HTTP API's CORS configuration: the values the deployed API declares (session_schema.routes)."""

    allow_origins: tuple[str, ...] = HTTP_CORS_ALLOW_ORIGINS
    allow_methods: tuple[str, ...] = HTTP_CORS_ALLOW_METHODS
    allow_headers: tuple[str, ...] = HTTP_CORS_ALLOW_HEADERS
    expose_headers: tuple[str, ...] = HTTP_CORS_EXPOSE_HEADERS
    max_age: int = HTTP_CORS_MAX_AGE_SECONDS

    def origin_for(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.allow_origins:
            return "*"
        return origin if origin in self.allow_origins else None


CORS = CorsConfig()

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-javascript|ecmascript|graphql))$", re.I
)


# -- route matching ----------------------------------------------------------------------------------------


class RouteTable:
    """The routes the local HTTP gateway serves, matched as API Gateway picks one
    (`session_schema.routes.match_route`: most specific first, `{name+}` greedy, ANY, decoded parameters)."""

    def __init__(self, routes: Iterable[HttpRoute] = HTTP_ROUTES) -> None:
        self._routes = tuple(routes)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        return match_route(method, raw_path, self._routes)


# -- events and responses ----------------------------------------------------------------------------------


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    return bool(_TEXT_TYPES.match(content_type.split(";", 1)[0].strip()))


def build_http_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    match: RouteMatch,
    request_id: str | None = None,
    now: float | None = None,
    authorizer_iam: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event for one request (an authorizer block only with
    `authorizer_iam`, the signer of a request to an IAM route)."""
    now = time.time() if now is None else now
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    domain = joined.get("host", "127.0.0.1")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        params: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        event["queryStringParameters"] = params
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id or new_request_id(),
        "routeKey": match.route.route_key,
        "stage": STAGE,
        "time": request_time(now),
        "timeEpoch": int(now * 1000),
    }
    if authorizer_iam is not None:
        request_context["authorizer"] = {"iam": authorizer_iam}
    event["requestContext"] = request_context
    if body:
        if _is_text(joined.get("content-type")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def response_from_result(result: Any) -> HttpResponse:
    """What API Gateway answers for a handler's return value (payload format 2.0 rules)."""
    if isinstance(result, Mapping) and "statusCode" in result:
        try:
            status = int(result["statusCode"])
        except (TypeError, ValueError):
            raise ValueError(f"statusCode {result['statusCode']!r} is not a number") from None
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(str(name), str(v)) for v in values]
        headers += [("set-cookie", str(c)) for c in result.get("cookies") or []]
        body = result.get("body")
        if body is None:
            raw = b""
        elif result.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, TypeError):
                raise ValueError("isBase64Encoded is true but the body is not base64") from None
        else:
            raw = body.encode() if isinstance(body, str) else json.dumps(body, allow_nan=False).encode()
        return HttpResponse(status, headers, raw)
    # No statusCode: API Gateway assumes 200 and a JSON body made of the returned value.
    if isinstance(result, str):
        return HttpResponse(200, [("content-type", "application/json")], result.encode())
    return HttpResponse.json(200, result)


def forwarded_headers(
    headers: Iterable[tuple[str, str]], source_ip: str, port: int, now: float | None = None
) -> list[tuple[str, str]]:
    """The request's headers with the ones API Gateway adds (X-Forwarded-*, X-Amzn-Trace-Id), unless sent."""
    headers = list(headers)
    now = time.time() if now is None else now
    present = {name.lower() for name, _ in headers}
    added = [
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "http"),
        ("X-Amzn-Trace-Id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}"),
    ]
    return [*headers, *((k, v) for k, v in added if k.lower() not in present)]


def preflight_response(cors: CorsConfig, origin_header: str | None) -> HttpResponse:
    """API Gateway's answer to an OPTIONS request of an API with CORS configured (no route runs)."""
    origin = cors.origin_for(origin_header)
    headers = [("access-control-max-age", str(cors.max_age))]
    if origin:
        headers += [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", ",".join(cors.allow_methods)),
            ("access-control-allow-headers", ",".join(h.lower() for h in cors.allow_headers)),
        ]
    return HttpResponse(204, headers)


def with_cors_headers(
    cors: CorsConfig, origin_header: str | None, headers: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """A response's headers with the configured CORS headers API Gateway applies to every response."""
    headers = list(headers)
    origin = cors.origin_for(origin_header)
    if origin and not any(k.lower() == "access-control-allow-origin" for k, _ in headers):
        headers.append(("access-control-allow-origin", origin))
        if cors.expose_headers:
            headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    return headers
