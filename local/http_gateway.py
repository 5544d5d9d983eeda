"""The HTTP side of the local stack: what API Gateway's HTTP API (payload format 2.0) does for us.

- routes come from `session_schema.routes.HTTP_ROUTES` (the table the CDK stack deploys), matched with
  API Gateway's path syntax (`/sessions/{sessionId}`: one segment per parameter, literal routes first);
- no route has an authorizer, as in the deployed API (infra/http_api.py): every matched request reaches
  the handler with its `Authorization` header, and the handler verifies the bearer token itself (401
  UNAUTHORIZED in the contract's error shape); `requestContext` never carries an `authorizer` block;
- each request gets one API Gateway-style request ID (`JKJaXmPLvHcESHA=`: 16 base64 characters): the
  event's `requestContext.requestId` (which the handler puts in error bodies) and the `apigw-requestid`
  response header are the same value, so a client can match a response to its error body and log line;
- requests become real v2 events; the handler's result becomes the response (including the inference
  API Gateway applies to a result that is not a `{"statusCode": ...}` object);
- CORS preflight is answered by the gateway, as the deployed HTTP API's CORS configuration does;
- the same server publishes the local issuer's JWKS and the WebSocket API's `@connections` management
  endpoint, which the handlers' own boto3 `apigatewaymanagementapi` client calls (WS_CALLBACK_URL).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import http.server
import json
import logging
import re
import secrets
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from session_schema import models
from session_schema.routes import (
    HTTP_CORS_ALLOW_HEADERS,
    HTTP_CORS_ALLOW_METHODS,
    HTTP_CORS_ALLOW_ORIGINS,
    HTTP_CORS_EXPOSE_HEADERS,
    HTTP_CORS_MAX_AGE_SECONDS,
    HTTP_ROUTES,
    HttpRoute,
)

from .console import console_response, is_console_path
from .lambdas import FunctionError, HandlerUnavailable, Throttled, WorkerCrashed

if TYPE_CHECKING:
    from .lambda_api import LambdaApi

logger = logging.getLogger("local.http")

ACCOUNT_ID = "123456789012"
API_ID = "localhttp"
STAGE = "$default"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API payload limit
CONNECTIONS_PREFIX = "/_connections"  # WS_CALLBACK_URL = http://<host>:<port>/_connections
ISSUER_PREFIX = "/local-issuer"  # JWT_ISSUER = http://<host>:<port>/local-issuer


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


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]


class RouteTable:
    """Matches a method and a raw path against API Gateway-style route paths."""

    _PARAM = re.compile(r"^\{([A-Za-z0-9_]+)(\+?)\}$")

    def __init__(self, routes: Iterable[HttpRoute] = HTTP_ROUTES) -> None:
        compiled = []
        for route in routes:
            pattern, names, greedy = self._compile(route.path)
            # API Gateway picks the most specific route: fewer parameters first, greedy ones last.
            compiled.append(((greedy, len(names), -len(route.path)), route, pattern))
        compiled.sort(key=lambda entry: entry[0])
        self._routes = [(route, pattern) for _, route, pattern in compiled]

    @classmethod
    def _compile(cls, path: str) -> tuple[re.Pattern[str], list[str], bool]:
        parts, names, greedy = [], [], False
        for segment in path.strip("/").split("/") if path != "/" else []:
            param = cls._PARAM.match(segment)
            if param:
                names.append(param.group(1))
                greedy = greedy or bool(param.group(2))
                parts.append(f"(?P<{param.group(1)}>.+)" if param.group(2) else f"(?P<{param.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("^/" + "/".join(parts) + "$"), names, greedy

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        for route, pattern in self._routes:
            if route.method != method.upper() and route.method != "ANY":
                continue
            found = pattern.match(raw_path)
            if found:
                return RouteMatch(route, {k: unquote(v) for k, v in found.groupdict().items()})
        return None


# -- events and responses ----------------------------------------------------------------------------------


def _http_time(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    return bool(_TEXT_TYPES.match(content_type.split(";", 1)[0].strip()))


def new_request_id() -> str:
    """An ID shaped like API Gateway's (`JKJaXmPLvHcESHA=`): 11 random bytes, standard base64."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


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
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event for one request (no authorizer block: none runs)."""
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
        "time": _http_time(now),
        "timeEpoch": int(now * 1000),
    }
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


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
        body = json.dumps(payload, allow_nan=False).encode()
        return cls(status, [("content-type", "application/json"), *headers], body)


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


# -- the @connections management endpoint ------------------------------------------------------------------


class ConnectionGone(Exception):
    """The connection does not exist (any more): the management API's 410 GoneException."""


class ClientBufferFull(Exception):
    """The client is not reading and its buffer is full: the management API's 429 LimitExceededException."""


class ManagementBackend:
    """What the @connections endpoint needs from the WebSocket gateway (see ws_gateway.ConnectionRegistry):
    coroutines on the gateway's loop, and `run` to call them from another thread (this HTTP server's)."""

    async def post(self, connection_id: str, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def delete(self, connection_id: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, connection_id: str) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def run(self, coroutine: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


CONNECTION_ID_PATTERN = re.compile(models.CONNECTION_ID_PATTERN)  # used with fullmatch
MAX_POST_BYTES = 128 * 1024


def management_error(status: int, error_type: str, message: str | None) -> HttpResponse:
    return HttpResponse.json(
        status,
        {"message": message},
        [("x-amzn-errortype", error_type), ("x-amzn-requestid", str(uuid.uuid4()))],
    )


async def answer_management(backend: ManagementBackend, method: str, connection_id: str, body: bytes) -> HttpResponse:
    """One call of the API Gateway management API: POST/GET/DELETE /@connections/{connectionId}, on the
    WebSocket gateway's loop (local/management_endpoint.py serves it there; `handle_management` from here)."""
    if not CONNECTION_ID_PATTERN.fullmatch(connection_id):
        return management_error(400, "BadRequestException", "Invalid connectionId")
    try:
        if method == "POST":
            if len(body) > MAX_POST_BYTES:
                return management_error(413, "PayloadTooLargeException", "Message too long")
            await backend.post(connection_id, body)
            return HttpResponse(200, [("x-amzn-requestid", str(uuid.uuid4()))])
        if method == "DELETE":
            await backend.delete(connection_id)
            return HttpResponse(204, [("x-amzn-requestid", str(uuid.uuid4()))])
        if method == "GET":
            return HttpResponse.json(200, backend.describe(connection_id))
    except ConnectionGone:
        return management_error(410, "GoneException", None)
    except (ClientBufferFull, TimeoutError):
        return management_error(429, "LimitExceededException", "the client is not reading its messages")
    return management_error(403, "ForbiddenException", "Forbidden")


def handle_management(backend: ManagementBackend, method: str, connection_id: str, body: bytes) -> HttpResponse:
    """`answer_management` from this server's thread."""
    try:
        response: HttpResponse = backend.run(answer_management(backend, method, connection_id, body))
    except ConnectionGone:  # the WebSocket gateway is not running
        return management_error(410, "GoneException", None)
    return response


# -- the server --------------------------------------------------------------------------------------------


@dataclass
class GatewayConfig:
    routes: RouteTable
    invoke: Callable[[Mapping[str, Any]], Any]  # runs the HTTP handler with one event
    jwks: Callable[[], dict[str, Any]]
    management: ManagementBackend
    cors: CorsConfig = CORS
    console_ws_url: str | None = None  # the WebSocket API the console page (local/console.py) connects to
    lambda_api: LambdaApi | None = None  # Lambda's Invoke API for the stack's functions (local/lambda_api.py)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # The stdlib's 5 drops the SYNs of a fan-out opening its connections at once, and of new execution
    # environments fetching the issuer's JWKS together with their callers (each retry waits 1 s, then 3 s).
    request_queue_size = 1024
    config: GatewayConfig


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def version_string(self) -> str:
        return "local-apigateway"

    # every method goes through one dispatcher
    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, PROPFIND...) too: no route has it, so API Gateway's answer is its
        # 404 {"message": "Not Found"}, not the stdlib's HTML 501 for a method it has no do_ function for.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        logger.debug("%s " + format, self.client_address[0], *args)

    def _read_body(self) -> bytes | None:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        started = time.monotonic()
        method = self.command.upper()
        split = urlsplit(self.path)
        raw_path, raw_query = split.path or "/", split.query
        config = self.server.config
        request_id = new_request_id()  # the event's requestContext.requestId and the apigw-requestid header
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(HttpResponse.json(400, {"message": "Bad Request"}), method, request_id)
            return
        if body is None:
            self.close_connection = True
            self._send(HttpResponse.json(413, {"message": "Request Entity Too Large"}), method, request_id)
            return
        try:
            response, label = self._route(method, raw_path, raw_query, body, config, request_id)
        except Exception:  # noqa: BLE001 - never kill the server thread; answer like API Gateway
            logger.exception("gateway error on %s %s", method, raw_path)
            response, label = HttpResponse.json(500, {"message": "Internal Server Error"}), "error"
        self._send(response, method, request_id)
        if label != "quiet":
            logger.info(
                "%-6s %s -> %d (%.0f ms)%s",
                method,
                raw_path + (f"?{raw_query}" if raw_query else ""),
                response.status,
                (time.monotonic() - started) * 1000,
                f" [{label}]" if label else "",
            )

    def _route(
        self, method: str, raw_path: str, raw_query: str, body: bytes, config: GatewayConfig, request_id: str
    ) -> tuple[HttpResponse, str]:
        if raw_path == ISSUER_PREFIX + "/.well-known/jwks.json" and method == "GET":
            return HttpResponse.json(200, config.jwks(), [("cache-control", "max-age=300")]), "quiet"
        if raw_path.startswith(CONNECTIONS_PREFIX + "/@connections/"):
            connection_id = unquote(raw_path[len(CONNECTIONS_PREFIX + "/@connections/") :])
            response = handle_management(config.management, method, connection_id, body)
            return response, "quiet" if response.status < 300 else "@connections"
        if config.lambda_api is not None and config.lambda_api.handles(raw_path):
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = config.lambda_api.answer(method, raw_path, headers, body)
            return response, "quiet" if response.status < 300 else "lambda"
        if method == "OPTIONS":
            return self._preflight(config.cors), "preflight"
        if method in ("GET", "HEAD") and is_console_path(raw_path):
            status, headers, page = console_response(raw_path, config.console_ws_url)
            return HttpResponse(status, headers, page), "quiet" if status < 400 else "console"
        match = config.routes.match(method, raw_path)
        if match is None:
            return HttpResponse.json(404, {"message": "Not Found"}), ""
        # No authorizer (module docstring): the handler verifies the Authorization header itself.
        forwarded = [
            ("X-Forwarded-For", self.client_address[0]),
            ("X-Forwarded-Port", str(self.server.server_address[1])),
            ("X-Forwarded-Proto", "http"),
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"),
        ]
        present = {name.lower() for name in self.headers.keys()}
        event = build_http_event(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=[*self.headers.items(), *((k, v) for k, v in forwarded if k.lower() not in present)],
            body=body,
            source_ip=self.client_address[0],
            match=match,
            request_id=request_id,
        )
        try:
            result = config.invoke(event)
        except TimeoutError:
            logger.error("handler timed out on %s (API Gateway's 29 s integration limit)", match.route.route_key)
            return HttpResponse.json(503, {"message": "Service Unavailable"}), "integration timeout"
        except WorkerCrashed as error:  # the execution environment died or hit the function's timeout
            logger.error("integration failed on %s: %s", match.route.route_key, error)
            return HttpResponse.json(502, {"message": "Internal Server Error"}), "integration crashed"
        except Throttled as error:  # API Gateway answers a throttled Lambda with a plain 500
            logger.warning("throttled on %s: %s", match.route.route_key, error)
            return HttpResponse.json(500, {"message": "Internal Server Error"}), "throttled"
        except Exception as error:  # noqa: BLE001 - a handler crash is API Gateway's 500
            logger.error("handler failed on %s: %r", match.route.route_key, error, exc_info=not _is_unavailable(error))
            return HttpResponse.json(500, {"message": "Internal Server Error"}), "handler error"
        try:
            response = response_from_result(result)
        except ValueError as error:
            logger.error("handler returned a malformed response for %s: %s", match.route.route_key, error)
            return HttpResponse.json(500, {"message": "Internal Server Error"}), "malformed response"
        return response, ""

    def _preflight(self, cors: CorsConfig) -> HttpResponse:
        origin = cors.origin_for(self.headers.get("origin"))
        headers = [("access-control-max-age", str(cors.max_age))]
        if origin:
            headers += [
                ("access-control-allow-origin", origin),
                ("access-control-allow-methods", ",".join(cors.allow_methods)),
                ("access-control-allow-headers", ",".join(h.lower() for h in cors.allow_headers)),
            ]
        return HttpResponse(204, headers)

    def _send(self, response: HttpResponse, method: str, request_id: str) -> None:
        config = self.server.config
        headers = [(k, v) for k, v in response.headers if k.lower() not in ("content-length", "connection")]
        # API Gateway applies the configured CORS headers to every response of an API with CORS set.
        origin = config.cors.origin_for(self.headers.get("origin"))
        if origin and not any(k.lower() == "access-control-allow-origin" for k, _ in headers):
            headers.append(("access-control-allow-origin", origin))
            if config.cors.expose_headers:
                headers.append(("access-control-expose-headers", ",".join(config.cors.expose_headers)))
        try:
            self.send_response(response.status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("apigw-requestid", request_id)
            self.send_header("content-length", str(len(response.body)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            if method != "HEAD" and response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _is_unavailable(error: BaseException) -> bool:
    """No traceback for these: the log line says it all (a handler's own traceback is in its worker's log)."""
    return isinstance(error, HandlerUnavailable | FunctionError)


class HttpGateway:
    """The HTTP API server, bound at construction (so its port is known before anything starts)."""

    def __init__(self, host: str, port: int) -> None:
        self._server = _Server((host, port), _Handler, bind_and_activate=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self, config: GatewayConfig) -> None:
        self._server.config = config
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
