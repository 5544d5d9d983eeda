"""The `@connections` management API served on the WebSocket gateway's own event loop.

The handlers' WS_CALLBACK_URL points here. The HTTP gateway serves the same calls too (stdlib
http.server: a thread per connection, header parsing in Python, a hop onto this loop per call), but that
costs the local stack several times what a post costs the handler (bench/fanout.py), and a fan-out to
hundreds of listeners is nearly all posts. Here a call is parsed by httptools and answered on the loop
that owns the sockets (`answer_management`, the same rules), keep-alive, in request order per connection.
"""

from __future__ import annotations

import asyncio
import socket
from http import HTTPStatus
from urllib.parse import unquote

import httptools

from local.http_response import HttpResponse

from .management import CONNECTIONS_PREFIX, ManagementBackend, answer_management, management_error

_PREFIX = CONNECTIONS_PREFIX + "/@connections/"


def _encode(response: HttpResponse, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}"]
    head += [f"{name}: {value}" for name, value in response.headers]
    head.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + response.body


class ManagementProtocol(asyncio.Protocol):
    def __init__(self, backend: ManagementBackend) -> None:
        self.backend = backend
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []
        self._previous: asyncio.Future[None] | None = None  # answers leave in request order

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.write(_encode(HttpResponse.json(400, {"message": "Bad Request"}), keep_alive=False))
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        url, body = self._url.decode(), b"".join(self._body)
        self._url, self._body = b"", []
        keep_alive = self.parser.should_keep_alive()
        previous = self._previous
        self._previous = asyncio.ensure_future(self._answer(method, url, body, keep_alive, previous))

    async def _answer(
        self, method: str, url: str, body: bytes, keep_alive: bool, previous: asyncio.Future[None] | None
    ) -> None:
        path = url.split("?", 1)[0]
        if path.startswith(_PREFIX):
            response = await answer_management(self.backend, method, unquote(path[len(_PREFIX) :]), body)
        else:
            response = management_error(404, "NotFoundException", "Not Found")
        if previous is not None:
            await previous
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(_encode(response, keep_alive))
            if not keep_alive:
                self.transport.close()


def bind(host: str) -> socket.socket:
    """A listening socket on a free port of `host`, bound before anything starts: its port goes into the
    handlers' WS_CALLBACK_URL (a fan-out opens its connections at once: a deep backlog)."""
    sock = socket.create_server((host, 0), backlog=1024)
    sock.setblocking(False)
    return sock


async def serve_management(backend: ManagementBackend, host: str, sock: socket.socket | None = None) -> asyncio.Server:
    """Serve the management API on the running loop, on `sock` (or a free port of `host`)."""
    return await asyncio.get_running_loop().create_server(
        lambda: ManagementProtocol(backend), sock=sock if sock is not None else bind(host)
    )
