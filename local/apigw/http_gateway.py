"""The HTTP side of the local stack: the server standing in for API Gateway's HTTP API (payload format 2.0).

What it answers follows API Gateway's rules, kept as pure functions in local/apigw/http_api_events.py (routes,
the v2 event, the response for a handler's result, CORS); this module reads requests and writes responses:
- each request gets one API Gateway-style request ID (`JKJaXmPLvHcESHA=`): the event's
  `requestContext.requestId` (which the handler puts in error bodies) and the `apigw-requestid` response
  header are the same value, so a client can match a response to its error body and log line;
- a failed integration is answered as API Gateway answers it (500, 502 for a crashed worker, 503 past the
  integration timeout);
- CORS preflight is answered by the gateway, as the deployed HTTP API's CORS configuration does;
- a route whose `auth_kind` is "iam" is behind API Gateway's IAM authorizer: the request's SigV4 signature is
  verified against the local credentials (local/iam), refused with API Gateway's 403 bodies, and its signer
  handed to the handler in `requestContext.authorizer.iam`;
- the same server publishes the local issuer's JWKS, Lambda's Invoke API for the stack's functions, the
  console page, and the WebSocket API's `@connections` management API (local/apigw/management.py).
"""

from __future__ import annotations

import http.server
import logging
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from local import SHUTDOWN_POLL_SECONDS
from local.console import console_response, is_console_path
from local.iam import LocalIdentity, Refusal, verify_sigv4
from local.lambda_service import FunctionError, HandlerUnavailable, Throttled, WorkerCrashed

from .http_api_events import (
    CORS,
    CorsConfig,
    HttpResponse,
    RouteTable,
    build_http_event,
    forwarded_headers,
    new_request_id,
    preflight_response,
    response_from_result,
    with_cors_headers,
)
from .management import CONNECTIONS_PREFIX, ManagementBackend, handle_management

if TYPE_CHECKING:
    from local.lambda_service import LambdaApi

logger = logging.getLogger("local.http")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API payload limit
ISSUER_PREFIX = "/local-issuer"  # JWT_ISSUER = http://<host>:<port>/local-issuer


# -- the server --------------------------------------------------------------------------------------------


@dataclass
class GatewayConfig:
    routes: RouteTable
    invoke: Callable[[Mapping[str, Any]], Any]  # runs the HTTP handler with one event
    jwks: Callable[[], dict[str, Any]]
    management: ManagementBackend
    cors: CorsConfig = CORS
    console_ws_url: str | None = None  # the WebSocket API the console page (local/console.py) connects to
    # Lambda's Invoke API for the stack's functions (local/lambda_service/invoke_api.py)
    lambda_api: LambdaApi | None = None
    # The IAM authorizer's key lookup (local/iam: access key -> identity); None: every signed request is refused.
    signers: Callable[[str], LocalIdentity | None] | None = None
    region: str = "us-east-1"


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
            return preflight_response(config.cors, self.headers.get("origin")), "preflight"
        if method in ("GET", "HEAD") and is_console_path(raw_path):
            status, headers, page = console_response(raw_path, config.console_ws_url)
            return HttpResponse(status, headers, page), "quiet" if status < 400 else "console"
        match = config.routes.match(method, raw_path)
        if match is None:
            return HttpResponse.json(404, {"message": "Not Found"}), ""
        signer = None
        if match.route.auth_kind == "iam":
            verdict = self._verify_signature(method, raw_path, raw_query, body, config)
            if isinstance(verdict, Refusal):
                return HttpResponse.json(403, {"message": verdict.message}), "signature refused"
            signer = verdict.authorizer_iam()
        # Else no authorizer (as deployed): the handler verifies the Authorization header itself.
        event = build_http_event(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=forwarded_headers(self.headers.items(), self.client_address[0], self.server.server_address[1]),
            body=body,
            source_ip=self.client_address[0],
            match=match,
            request_id=request_id,
            authorizer_iam=signer,
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

    def _verify_signature(
        self, method: str, raw_path: str, raw_query: str, body: bytes, config: GatewayConfig
    ) -> LocalIdentity | Refusal:
        host = self.headers.get("host") or f"127.0.0.1:{self.server.server_address[1]}"
        return verify_sigv4(
            method=method,
            url=f"http://{host}{raw_path}" + (f"?{raw_query}" if raw_query else ""),
            headers=self.headers.items(),
            body=body,
            region=config.region,
            identities=config.signers or (lambda _key: None),
        )

    def _send(self, response: HttpResponse, method: str, request_id: str) -> None:
        config = self.server.config
        headers = with_cors_headers(
            config.cors,
            self.headers.get("origin"),
            ((k, v) for k, v in response.headers if k.lower() not in ("content-length", "connection")),
        )
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
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="http-gateway",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
