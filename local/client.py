"""A small asyncio client for listener and speaker apps (and the `listen` / `speak` commands).

    async with await connect("ws://127.0.0.1:3001", "quiet-river-482", token=token) as client:
        await client.broadcast({"text": "hello"})     # speaker
        async for message in client:                   # every message the server sends
            print(message)

- `connect` opens the WebSocket (`?sessionId=&token=`), sends `join` and waits for `joined`;
- a refused handshake raises `Refused` with the HTTP status and the contract's error code
  (`SESSION_NOT_FOUND` 404, `SESSION_ENDED` 410, `SESSION_FULL` 429, ...): never retried;
- a dropped connection is re-opened with exponential backoff (capped, with jitter) and re-joined;
  the iteration simply continues. It stops after `sessionEnded` or `close()`.
- `request(action, expect=...)` sends an action and waits for its answer; an `error` answer raises
  `ActionError`. Actions are answered in order on one connection, which is what makes this safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

logger = logging.getLogger("local.client")

_END = object()


class Refused(Exception):
    """The server refused the WebSocket handshake (the `$connect` answer)."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        try:
            error = json.loads(body or b"{}").get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        self.code: str | None = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        self.message: str = message or body.decode("utf-8", "replace")
        super().__init__(f"HTTP {status} {self.code or ''} {self.message}".strip())


class ActionError(Exception):
    """The server answered an action with `{"type": "error", ...}`."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.payload = message
        self.code = message.get("code")
        super().__init__(f"{self.code}: {message.get('message')}")


def backoff_delays(initial: float = 0.5, cap: float = 30.0, factor: float = 2.0) -> Iterable[float]:
    """Exponential backoff with "equal jitter": half the step is fixed, half random; never above `cap`."""
    attempt = 0
    while True:
        step = min(cap, initial * factor**attempt)
        yield step / 2 + random.uniform(0, step / 2)
        attempt += 1


def session_url(ws_url: str, session_id: str, token: str | None = None) -> str:
    parts = urlsplit(ws_url)
    query = {"sessionId": session_id}
    if token:
        query["token"] = token
    extra = "&".join(p for p in (parts.query, urlencode(query)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", extra, ""))


class SessionClient:
    def __init__(
        self,
        ws_url: str,
        session_id: str,
        token: str | None = None,
        *,
        auto_join: bool = True,
        reconnect: bool = True,
        max_reconnect_attempts: int | None = None,
        backoff_initial: float = 0.5,
        backoff_cap: float = 30.0,
        open_timeout: float = 10.0,
        on_state: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.session_id = session_id
        self.token = token
        self.auto_join = auto_join
        self.reconnect = reconnect
        self.max_reconnect_attempts = max_reconnect_attempts
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.open_timeout = open_timeout
        self.on_state = on_state or (lambda state, info: None)

        self.ws: ClientConnection | None = None
        self.joined: dict[str, Any] | None = None
        self.reconnects = 0
        self.ended = False
        self._closing = False
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future]] = []
        self._reader: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._failure: BaseException | None = None

    # -- properties from the `joined` answer ----------------------------------------------------------------

    @property
    def role(self) -> str | None:
        return (self.joined or {}).get("role")

    @property
    def connection_id(self) -> str | None:
        return (self.joined or {}).get("connectionId")

    # -- connection ----------------------------------------------------------------------------------------

    async def open(self) -> SessionClient:
        await self._open_once()
        self._reader = asyncio.get_running_loop().create_task(self._read_forever())
        if self.auto_join:
            await self.join()
        return self

    async def _open_once(self) -> None:
        try:
            self.ws = await ws_connect(
                session_url(self.ws_url, self.session_id, self.token),
                open_timeout=self.open_timeout,
                compression=None,
                proxy=None,
                max_size=2**20,
                ping_interval=20,
            )
        except InvalidStatus as error:
            raise Refused(error.response.status_code, error.response.body or b"") from None
        self._connected.set()

    async def join(self, timeout: float = 10.0) -> dict[str, Any]:
        self.joined = await self.request("join", expect="joined", timeout=timeout)
        return self.joined

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._finish()

    async def __aenter__(self) -> SessionClient:
        if self.ws is None:
            await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sending -------------------------------------------------------------------------------------------

    async def send(self, action: str, **fields: Any) -> None:
        """Send one action without waiting for anything."""
        await self._connected.wait()
        assert self.ws is not None
        await self.ws.send(json.dumps({"action": action, **fields}))

    async def request(
        self, action: str, *, expect: str | Iterable[str], timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Send an action and wait for the first message of an expected type (or an error)."""
        types = {expect} if isinstance(expect, str) else set(expect)
        future = self.wait_for(lambda m: m.get("type") in types or m.get("type") == "error")
        await self.send(action, **fields)
        message = await asyncio.wait_for(future, timeout)
        if message.get("type") == "error" and "error" not in types:
            raise ActionError(message)
        return message

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> asyncio.Future:
        """A future for the next message that satisfies `predicate` (a message some waiter takes is not
        queued for iteration; every waiter it satisfies gets it)."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    async def ping(self, timeout: float = 10.0) -> dict[str, Any]:
        return await self.request("ping", expect="pong", timeout=timeout)

    async def history(self, since: int | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
        fields = {} if since is None else {"since": since}
        return (await self.request("history", expect="history", timeout=timeout, **fields))["items"]

    async def broadcast(self, data: Any) -> None:
        await self.send("broadcast", data=data)

    async def send_message(self, text: str) -> None:
        await self.send("sendMessage", text=text)

    async def control(self, action: str) -> None:
        """pause / resume / mute / unmute / end."""
        await self.send(action)

    # -- receiving -----------------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # every later iteration ends too
                if self._failure is not None:
                    raise self._failure
                return
            yield item

    async def next_message(self, timeout: float = 10.0) -> dict[str, Any]:
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if item is _END:
            self._queue.put_nowait(_END)
            raise ConnectionError("the session client is closed") from self._failure
        return item

    def _deliver(self, message: Any) -> None:
        """Resolve every waiter the message satisfies; a message no waiter wanted is queued for iteration."""
        taken = False
        if isinstance(message, dict):
            for entry in list(self._waiters):
                predicate, future = entry
                if future.done():
                    self._waiters.remove(entry)
                elif predicate(message):
                    self._waiters.remove(entry)
                    future.set_result(message)
                    taken = True
        if not taken:
            self._queue.put_nowait(message)

    async def _read_forever(self) -> None:
        delays = iter(())
        attempts = 0
        while True:
            assert self.ws is not None
            try:
                async for frame in self.ws:
                    try:
                        message = json.loads(frame)
                    except ValueError:
                        message = {"type": "_raw", "data": frame}
                    if isinstance(message, dict) and message.get("type") == "sessionEnded":
                        self.ended = True
                    self._deliver(message)
            except ConnectionClosed:
                pass
            self._connected.clear()
            if self._closing or self.ended or not self.reconnect:
                break
            # The connection dropped: re-open with backoff, then re-join.
            if attempts == 0:
                delays = iter(backoff_delays(self.backoff_initial, self.backoff_cap))
            reopened = False
            while not self._closing:
                if self.max_reconnect_attempts is not None and attempts >= self.max_reconnect_attempts:
                    self._failure = ConnectionError(f"gave up after {attempts} reconnect attempts")
                    break
                attempts += 1
                delay = next(delays)
                self.on_state("reconnecting", {"attempt": attempts, "delay": round(delay, 2)})
                await asyncio.sleep(delay)
                try:
                    await self._open_once()
                except Refused as refusal:
                    self._failure = refusal  # the session is gone, ended or full: retrying will not help
                    break
                except (TimeoutError, OSError, ConnectionClosed) as error:
                    logger.debug("reconnect attempt %d failed: %r", attempts, error)
                    continue
                reopened = True
                break
            if not reopened:
                break
            self.reconnects += 1
            attempts = 0
            if self.auto_join:
                # Re-join in the background of this reader: the answer arrives through this same loop.
                asyncio.get_running_loop().create_task(self._rejoin())
        self._finish()

    async def _rejoin(self) -> None:
        try:
            await self.join()
            self.on_state("reconnected", {"connectionId": self.connection_id})
        except Exception as error:  # noqa: BLE001 - the next drop retries
            logger.warning("re-join failed: %r", error)

    def _finish(self) -> None:
        self._connected.set()  # wake senders so they fail fast instead of hanging
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._waiters.clear()
        self._queue.put_nowait(_END)


async def connect(ws_url: str, session_id: str, token: str | None = None, **options: Any) -> SessionClient:
    """Open, join and return a `SessionClient` (use it with `async with`, or call `close()`)."""
    client = SessionClient(ws_url, session_id, token, **options)
    return await client.open()
