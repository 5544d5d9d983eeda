"""The WebSocket side of the local stack: the server standing in for API Gateway's WebSocket API.

The events it builds and what it does with a handler's result follow API Gateway's rules, kept as pure
functions in local/apigw/ws_api_events.py; this module runs the connections:
- the handshake runs `$connect` with a CONNECT event; a non-2xx answer refuses it with that status and
  the handler's body (the client sees e.g. HTTP 410 with `{"error": {"code": "SESSION_ENDED"...}}`);
- each frame is routed by `$request.body.action` against `session_schema.routes.WS_ROUTES` (unknown,
  missing or unparsable -> `$default`) and the route's response, if any, is sent back;
- a closed connection's `$disconnect` goes to the disconnect queue, as the deployed route's AWS integration sends it
  to SQS (infra/disconnect_queue.py): the message built from the DISCONNECT event's requestContext
  (session_schema/disconnect_message.py), which the queue's mapping hands to the connection function, a throttled
  delivery retried (local/sqs/queue.py), never dropped as a throttled invocation by API Gateway would be;
- API Gateway's limits: 32 KB frames, 128 KB messages, the idle timeout and the maximum duration; with
  `--aws-limits`, the account's new connections per second too: a handshake past it is refused 429 before
  `$connect` runs (`connect_rate`, a token bucket: local/aws_limits.py), as API Gateway throttles it;
- the live connections form the registry behind the `@connections` management endpoint (POST sends a
  frame, DELETE closes, GET describes; anything unknown or closed is gone: 410);
- a client that does not read: API Gateway holds a bounded buffer per connection and answers a post to a
  connection whose buffer is full at once with 429 LimitExceededException ("the WebSocket client side
  buffer is full", in the API reference), the post is not queued. Here: CLIENT_BUFFER_BYTES queued on top
  of a SOCKET_SEND_BUFFER_BYTES kernel send buffer, then 429, never a wait.

Frames of one connection are handled one after the other, so a client that sends A then B sees A's
effects first (API Gateway may run them concurrently; the handlers must not rely on either).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from session_schema.disconnect_message import message_body

from local.aws_limits import TokenBucket
from local.lambda_service import TIMEOUT_SECONDS as INTEGRATION_TIMEOUT_SECONDS
from local.lambda_service import FunctionError, HandlerUnavailable, Throttled, WorkerCrashed

from .common import epoch_ms
from .common import new_apigw_id as new_connection_id
from .management import ClientBufferFull, ConnectionGone, ManagementBackend
from .management_endpoint import serve_management
from .ws_api_events import (
    CONNECT_FAILED_BODY,
    ConnectionFacts,
    build_connect_event,
    build_disconnect_event,
    build_message_event,
    handshake_refusal,
    integration_error_reply,
    result_body,
    result_retry_after,
    result_status,
    route_reply,
    select_route,
)

logger = logging.getLogger("local.ws")

FRAME_MAX_BYTES = 32 * 1024  # API Gateway: frames up to 32 KB ...
MESSAGE_MAX_BYTES = 128 * 1024  # ... and messages up to 128 KB
CLIENT_BUFFER_BYTES = 128 * 1024  # queued for a client that is not reading; a post beyond it is 429
SOCKET_SEND_BUFFER_BYTES = 64 * 1024  # fixed (not autotuned to MBs), so "not reading" is noticed like on AWS
SEND_TIMEOUT_SECONDS = 5.0  # how long a management call from another thread may wait for the loop to run it
# API Gateway's body for a request it throttles itself (no integration runs).
THROTTLED_BODY = '{"message": "Too Many Requests"}'

Invoke = Callable[[Mapping[str, Any]], Any]


class DisconnectQueue(Protocol):
    def send(self, body: str, delay_seconds: int) -> str: ...


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class LiveConnection(ConnectionFacts):
    last_active: int = field(default_factory=epoch_ms)
    # connecting: $connect is running (posts are gone, as on API Gateway); accepted: the handshake is
    # being answered (posts are queued); open; closed.
    state: str = "connecting"
    ws: ServerConnection | None = None
    pending: list[str | bytes] = field(default_factory=list)
    close_requested: bool = False
    run_disconnect: bool = True
    disconnected: bool = False
    closed_code: int | None = None
    closed_reason: str = ""


class ConnectionRegistry(ManagementBackend):
    """Live connections by ID. Mutated only on the gateway's loop; the management calls hop onto it."""

    def __init__(self) -> None:
        self._live: dict[str, LiveConnection] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- used on the loop ----------------------------------------------------------------------------------

    def add(self, conn: LiveConnection) -> None:
        self._live[conn.connection_id] = conn

    def remove(self, connection_id: str) -> LiveConnection | None:
        return self._live.pop(connection_id, None)

    def get(self, connection_id: str) -> LiveConnection | None:
        return self._live.get(connection_id)

    def ids(self) -> list[str]:
        return [cid for cid, conn in list(self._live.items()) if conn.state == "open"]

    async def post(self, connection_id: str, data: bytes) -> None:
        conn = self._live.get(connection_id)
        if conn is None or conn.state not in ("accepted", "open"):
            raise ConnectionGone(connection_id)
        try:
            message: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            message = data
        if conn.state == "accepted":
            conn.pending.append(message)
        else:
            assert conn.ws is not None
            if conn.ws.transport.get_write_buffer_size() >= CLIENT_BUFFER_BYTES:
                raise ClientBufferFull(connection_id)
            try:
                # No wait_for (a task and a timer per frame): the buffer check above and the server's
                # write_limit (the buffer plus one message) mean this send never waits for a drain.
                await conn.ws.send(message)
            except ConnectionClosed:
                raise ConnectionGone(connection_id) from None
        conn.last_active = epoch_ms()

    async def delete(self, connection_id: str) -> None:
        conn = self._live.get(connection_id)
        if conn is None or conn.state not in ("accepted", "open"):
            raise ConnectionGone(connection_id)
        if conn.state == "accepted":
            conn.close_requested = True
            return
        assert conn.ws is not None
        # Like API Gateway: the call returns once the close has started; $disconnect follows.
        asyncio.get_running_loop().create_task(conn.ws.close(1000, ""))

    async def _sever(self, connection_id: str) -> bool:
        conn = self._live.pop(connection_id, None)
        if conn is None:
            return False
        conn.run_disconnect = False
        conn.state = "closed"
        if conn.ws is not None:
            conn.ws.transport.abort()
        return True

    # -- called from other threads (the HTTP gateway's management endpoint, tests) -------------------------

    def run(self, coroutine: Any, timeout: float = SEND_TIMEOUT_SECONDS + 1) -> Any:
        loop = self.loop
        if loop is None or loop.is_closed():
            coroutine.close()
            raise ConnectionGone("the WebSocket gateway is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    def describe(self, connection_id: str) -> dict[str, Any]:
        conn = self._live.get(connection_id)
        if conn is None or conn.state not in ("accepted", "open"):
            raise ConnectionGone(connection_id)
        return {
            "connectedAt": _iso(conn.connected_at),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "lastActiveAt": _iso(conn.last_active),
        }

    def sever(self, connection_id: str) -> bool:
        """Drop a connection the way a vanished client does: no close frame and no `$disconnect`.

        Its records stay registered; the next post finds it gone (410), which is how handlers learn.
        """
        return bool(self.run(self._sever(connection_id)))

    def live_ids(self) -> list[str]:
        return self.run(self._ids())

    async def _ids(self) -> list[str]:
        return self.ids()


class WsGateway:
    """The WebSocket API server, in its own thread with its own event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        registry: ConnectionRegistry,
        executor: Executor,
        invoke: Invoke,
        disconnects: DisconnectQueue,
        idle_timeout: float = 600,
        max_connection_seconds: float = 7200,
        management_socket: socket.socket | None = None,
        connect_rate: TokenBucket | None = None,
    ) -> None:
        self.host = host
        self.connect_rate = connect_rate  # None: no quota on new connections (the default, limitless)
        self.connects_throttled = 0
        self.requested_port = port
        self._management_socket = management_socket  # bound by the stack (its port is in WS_CALLBACK_URL)
        self.registry = registry
        self._executor = executor
        self._invoke = invoke
        self._disconnects = disconnects
        self.idle_timeout = idle_timeout
        self.max_connection_seconds = max_connection_seconds
        self.port = 0
        self.management_port = 0  # the @connections endpoint on this loop (local/apigw/management_endpoint.py)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._reapers: set[asyncio.Task] = set()

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> int:
        self._thread = threading.Thread(target=self._run, name="ws-gateway", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._start_error is not None:
            raise self._start_error
        if not self.port:
            raise RuntimeError("the WebSocket gateway did not start")
        return self.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as error:  # noqa: BLE001 - reported to start()
            self._start_error = error
            self._started.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._server = await serve(
            self._handle,
            self.host,
            self.requested_port,
            process_request=self._process_request,
            compression=None,  # API Gateway does not negotiate permessage-deflate
            max_size=(MESSAGE_MAX_BYTES, FRAME_MAX_BYTES),
            ping_interval=None,  # API Gateway does not ping clients; a vanished one is found by a send
            open_timeout=40,  # $connect may include a cold start
            close_timeout=5,
            write_limit=CLIENT_BUFFER_BYTES + MESSAGE_MAX_BYTES,  # never reached: post() refuses past the buffer
            logger=logging.getLogger("local.ws.protocol"),
        )
        self.port = self._server.sockets[0].getsockname()[1]
        management = await serve_management(self.registry, self.host, self._management_socket)
        self.management_port = management.sockets[0].getsockname()[1]
        self.registry.loop = asyncio.get_running_loop()
        self._started.set()
        await self._stop.wait()
        management.close()
        self._server.close(code=1001, reason="Going away")
        try:
            await asyncio.wait_for(self._server.wait_closed(), 35)
        except TimeoutError:
            logger.warning("some connections did not close in time")
        for task in list(self._reapers):
            task.cancel()

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=45)

    # -- handshake -----------------------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.connect_rate is not None and not self.connect_rate.take():
            self.connects_throttled += 1
            logger.info("WS connect %s -> 429 throttled (new connections per second)", urlsplit(request.path).path)
            return handshake_refusal(429, THROTTLED_BODY)
        peer = connection.remote_address or ("127.0.0.1", 0)
        conn = LiveConnection(
            connection_id=new_connection_id(),
            source_ip=str(peer[0]),
            user_agent=request.headers.get("User-Agent", ""),
            domain_name=request.headers.get("Host", f"{self.host}:{self.port}"),
        )
        self.registry.add(conn)
        started = time.monotonic()
        try:
            result = await self._run_handler(build_connect_event(conn, request.path, request.headers.raw_items()))
            status, body, retry_after = result_status(result), result_body(result), result_retry_after(result)
        except Exception as error:  # noqa: BLE001 - a crash in $connect is a 500 handshake on API Gateway
            logger.error("$connect failed: %r", error, exc_info=not _quiet(error))
            status, body, retry_after = 500, CONNECT_FAILED_BODY, None
        path = urlsplit(request.path)
        if not 200 <= status < 300:
            self.registry.remove(conn.connection_id)
            logger.info(
                "WS connect %s%s -> %d refused (%.0f ms) %s",
                path.path,
                _redact(path.query),
                status,
                (time.monotonic() - started) * 1000,
                (body or "")[:200],
            )
            return handshake_refusal(status, body, retry_after)
        conn.state = "accepted"
        connection.local_conn = conn  # type: ignore[attr-defined]
        reaper = asyncio.get_running_loop().create_task(self._reap_if_never_opened(conn, connection))
        self._reapers.add(reaper)
        reaper.add_done_callback(self._reapers.discard)
        logger.info(
            "WS connect %s%s -> %s (%.0f ms)",
            path.path,
            _redact(path.query),
            conn.connection_id,
            (time.monotonic() - started) * 1000,
        )
        return None

    async def _reap_if_never_opened(self, conn: LiveConnection, connection: ServerConnection) -> None:
        """A connection whose $connect passed but whose handshake then failed still gets its $disconnect."""
        await asyncio.shield(connection.connection_lost_waiter)
        if conn.state == "accepted":
            self.registry.remove(conn.connection_id)
            conn.state = "closed"
            await self._disconnect(conn, 1006, "")

    # -- an open connection --------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        conn: LiveConnection = ws.local_conn  # type: ignore[attr-defined]
        conn.ws = ws
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER_BYTES)
        watchdog = asyncio.get_running_loop().create_task(self._watch(conn, ws))
        try:
            # Posts that arrived between $connect and now go first, in order (more may queue meanwhile).
            while conn.pending:
                await ws.send(conn.pending.pop(0))
            conn.state = "open"
            if conn.close_requested:
                await ws.close(1000, "")
            # Activity, as API Gateway counts it for its idle timeout: a data frame in, a route response or an
            # @connections post out. WebSocket ping/pong control frames (answered by the library) do not count.
            async for frame in ws:
                conn.last_active = epoch_ms()
                await self._on_frame(conn, ws, frame)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            if self.registry.get(conn.connection_id) is conn:
                self.registry.remove(conn.connection_id)
            was_open = conn.state in ("accepted", "open")
            conn.state = "closed"
            if was_open and conn.run_disconnect:
                code = ws.close_code if ws.close_code is not None else 1006
                reason = conn.closed_reason or (ws.close_reason or "")
                await self._disconnect(conn, code, reason)

    async def _on_frame(self, conn: LiveConnection, ws: ServerConnection, frame: str | bytes) -> None:
        route_key = select_route(frame)
        event = build_message_event(conn, route_key, frame)
        started = time.monotonic()
        try:
            result = await self._run_handler(event)
        except Exception as error:  # noqa: BLE001 - API Gateway answers a failed integration like this
            logger.error("route %s failed: %r", route_key, error, exc_info=not _quiet(error))
            reply: str | None = integration_error_reply(event)
        else:
            reply = route_reply(route_key, result)
        logger.info("WS %-12s %s (%.0f ms)", route_key, conn.connection_id, (time.monotonic() - started) * 1000)
        if reply is not None:
            try:
                await ws.send(reply)
                conn.last_active = epoch_ms()
            except ConnectionClosed:
                pass

    async def _watch(self, conn: LiveConnection, ws: ServerConnection) -> None:
        """API Gateway's idle timeout and maximum connection duration."""
        while True:
            now = epoch_ms()
            idle_left = conn.last_active + self.idle_timeout * 1000 - now
            life_left = conn.connected_at + self.max_connection_seconds * 1000 - now
            if idle_left <= 0 or life_left <= 0:
                why = "idle timeout" if idle_left <= 0 else "maximum connection duration"
                logger.info("WS closing %s: %s", conn.connection_id, why)
                conn.closed_reason = "Going away"
                await ws.close(1001, "Going away")
                return
            await asyncio.sleep(max(0.05, min(idle_left, life_left) / 1000))

    async def _disconnect(self, conn: LiveConnection, code: int, reason: str) -> None:
        if conn.disconnected:
            return
        conn.disconnected = True
        event = build_disconnect_event(conn, code, reason)
        self._disconnects.send(message_body(event["requestContext"]), 0)
        logger.info("WS disconnect %s (code %s)", conn.connection_id, code)

    async def _run_handler(self, event: Mapping[str, Any]) -> Any:
        """One invocation on the worker pool, bounded like API Gateway's 29 s integration timeout."""
        work = asyncio.get_running_loop().run_in_executor(self._executor, self._invoke, event)
        return await asyncio.wait_for(work, INTEGRATION_TIMEOUT_SECONDS)


def _redact(query: str) -> str:
    """The query for a log line, without the token."""
    if not query:
        return ""
    parts = [(k, "***" if k.lower() in ("token", "access_token", "id_token") else v) for k, v in parse_qsl(query, True)]
    return "?" + "&".join(f"{k}={v}" for k, v in parts)


def _quiet(error: BaseException) -> bool:
    """No traceback for these: the log line says it all (a handler's own traceback is in its worker's log)."""
    return isinstance(error, HandlerUnavailable | FunctionError | WorkerCrashed | Throttled)
