"""A do-nothing management API in a child process: answers every `@connections` call at once and counts
them by connection ID, so a benchmark measures only the caller's side (its CPU is not the caller's).

`with Endpoint() as url:` gives `http://127.0.0.1:<port>/bench` (a WS_CALLBACK_URL); `counts()` returns
{connection ID: POSTs answered}. asyncio + httptools, keep-alive and pipelining-safe, one process.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


def _serve(pipe: Any) -> None:
    import asyncio

    import httptools

    counts: Counter[str] = Counter()

    class Protocol(asyncio.Protocol):
        def __init__(self) -> None:
            self.parser = httptools.HttpRequestParser(self)
            self.url = b""

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_url(self, url: bytes) -> None:
            self.url = url

        def on_message_complete(self) -> None:
            if self.parser.get_method() == b"POST":
                counts[self.url.rsplit(b"/", 1)[-1].decode()] += 1
                self.transport.write(_OK)
            else:
                self.transport.write(_NO_CONTENT)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Protocol, "127.0.0.1", 0, backlog=1024)
        pipe.send(server.sockets[0].getsockname()[1])
        while True:
            await asyncio.sleep(0.05)
            if pipe.poll():
                command = pipe.recv()
                if command == "counts":
                    pipe.send(dict(counts))
                elif command == "reset":
                    counts.clear()
                    pipe.send(None)

    asyncio.run(main())


class Endpoint:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), name="bench-endpoint", daemon=True)

    def __enter__(self) -> str:
        self._process.start()
        if not self._pipe.poll(60):
            raise RuntimeError("the endpoint did not start")
        return f"http://127.0.0.1:{self._pipe.recv()}/bench"

    def counts(self) -> dict[str, int]:
        self._pipe.send("counts")
        counts: dict[str, int] = self._pipe.recv()
        return counts

    def reset(self) -> None:
        self._pipe.send("reset")
        self._pipe.recv()

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.join(10)
