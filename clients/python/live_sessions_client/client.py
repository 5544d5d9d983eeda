"""An asyncio client for listener and speaker apps of the live-sessions WebSocket API.

    async with await connect("ws://127.0.0.1:3001", "quiet-river-482", token=token) as client:
        await client.broadcast({"text": "hello"})     # speaker
        async for message in client:                   # every message the server sends, stream events in order
            print(message)

- `connect` opens the WebSocket (`?sessionId=&token=`), sends `join` and waits for `joined`;
- a refused handshake is retried with capped, jittered backoff when it is transient (5xx, 429 RATE_LIMITED,
  429 SESSION_FULL, any other status); 400, 404 and 410 raise `Refused` with the contract's code;
- after any drop it reconnects and resumes (`join {sinceSeq, epoch}`): stream events come out once each, in
  seq order; when the server cannot replay, `on_state("reset", ...)` says so and the view is the new baseline;
- `request(action, expect=...)` sends an action with an `id` and waits for the answer echoing it; an `error`
  answer raises `ActionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

logger = logging.getLogger("live_sessions_client")

# The events pushed because the session changed: they carry the session's gap-free `seq`.
STREAM_TYPES = frozenset({"broadcast", "message", "sessionUpdated", "sessionEnded", "artifactUpdated"})
FATAL_STATUSES = frozenset({400, 404, 410})  # the contract: only these end the attempts
API_GATEWAY_MAX_CONNECTION_SECONDS = 7200
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

    @property
    def transient(self) -> bool:
        """Worth retrying: everything but 400, 404 and 410 (a full session frees seats; a 5xx passes)."""
        return self.status not in FATAL_STATUSES


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


class StreamOrder:
    """Puts stream events back in seq order: each seq once, an event ahead of a gap held until it fills.

    `baseline(seq)` sets the last seq the app has (a `joined` view's); `accept(event)` returns what can be
    handed over now, in order. `gap_since` is when the oldest unfilled gap was first seen (None: none)."""

    def __init__(self, max_held: int = 1000) -> None:
        self.last_seq: int | None = None
        self.max_held = max_held
        self.held: dict[int, dict[str, Any] | None] = {}  # None: a seq taken by something not handed over
        self.gap_since: float | None = None
        self.duplicates = 0

    def baseline(self, seq: int) -> list[dict[str, Any]]:
        """The app's state now includes everything up to `seq`: drop what is older, hand over what follows."""
        self.last_seq = seq if self.last_seq is None else max(seq, self.last_seq)
        for old in [s for s in self.held if s <= self.last_seq]:
            del self.held[old]
        return self._release()

    def reset(self, seq: int) -> list[dict[str, Any]]:
        """The server could not replay: `seq` is the new baseline, whatever was before."""
        self.last_seq = seq
        return self.baseline(seq)

    def accept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        seq = event.get("seq")
        if not isinstance(seq, int):
            return [event]
        if self.last_seq is not None and seq <= self.last_seq or seq in self.held:
            self.duplicates += 1
            return []
        self.held[seq] = event
        return self._release()

    def taken(self, seq: int) -> list[dict[str, Any]]:
        """A seq the app learns of another way (a speaker's own broadcast, answered `broadcastSent` and never
        pushed to it): no gap is waiting for it."""
        if (self.last_seq is None or seq > self.last_seq) and seq not in self.held:
            self.held[seq] = None
        return self._release()

    @property
    def overflowing(self) -> bool:
        return len(self.held) > self.max_held

    def _release(self) -> list[dict[str, Any]]:
        if self.last_seq is None:
            return []  # before the first baseline: hold everything
        out = []
        while self.last_seq + 1 in self.held:
            self.last_seq += 1
            event = self.held.pop(self.last_seq)
            if event is not None:
                out.append(event)
        self.gap_since = (self.gap_since or time.monotonic()) if self.held else None
        return out


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
        keepalive_interval: float | None = 300.0,
        renew_after: float | None = API_GATEWAY_MAX_CONNECTION_SECONDS - 600,
        gap_timeout: float = 2.0,
        max_held: int = 1000,
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
        self.keepalive_interval = keepalive_interval
        self.renew_after = renew_after
        self.gap_timeout = gap_timeout

        self.ws: ClientConnection | None = None
        self.joined: dict[str, Any] | None = None
        self.epoch: str | None = None
        self.order = StreamOrder(max_held)
        self.reconnects = 0
        self.renewals = 0
        self.resets = 0
        self.ended = False
        self._closing = False
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[dict[str, Any]]]] = []
        self._requests: set[asyncio.Future[dict[str, Any]]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dropped = asyncio.Event()
        self._connected = asyncio.Event()
        self._failure: BaseException | None = None
        self._opened_at = 0.0
        self._last_sent = 0.0
        self._ids = itertools.count(1)
        self._recovering = False

    # -- properties from the `joined` answer ----------------------------------------------------------------

    @property
    def role(self) -> str | None:
        return (self.joined or {}).get("role")

    @property
    def connection_id(self) -> str | None:
        return (self.joined or {}).get("connectionId")

    @property
    def last_seq(self) -> int | None:
        return self.order.last_seq

    # -- connection ----------------------------------------------------------------------------------------

    async def open(self) -> SessionClient:
        """Connect (retrying transient refusals), join, and keep the connection going until `close()`."""
        self.ws = await self._connect_with_retry(first=True)
        self._adopt(self.ws)
        if self.auto_join:
            await self.join()
        self._spawn(self._supervise())
        return self

    async def _open_once(self) -> ClientConnection:
        try:
            ws = await ws_connect(
                session_url(self.ws_url, self.session_id, self.token),
                open_timeout=self.open_timeout,
                compression=None,
                proxy=None,
                max_size=2**20,
                ping_interval=20,  # finds a dead TCP path; API Gateway does not count these as activity
            )
        except InvalidStatus as error:
            raise Refused(error.response.status_code, error.response.body or b"") from None
        return ws

    async def _connect_with_retry(self, *, first: bool) -> ClientConnection:
        """Open a connection; transient refusals and (after the first connect) network errors are retried with
        backoff until `max_reconnect_attempts` (None: forever). 400/404/410 raise `Refused` at once."""
        delays = iter(backoff_delays(self.backoff_initial, self.backoff_cap))
        attempts = 0
        while True:
            try:
                return await self._open_once()
            except Refused as refusal:
                if not refusal.transient:
                    raise
                error: BaseException = refusal
            except (TimeoutError, OSError, ConnectionClosed) as network:
                if first:
                    raise  # nothing answers at that URL: the caller's mistake, not a blip
                error = network
            attempts += 1
            if self._closing:
                raise ConnectionError("closed while connecting")
            if self.max_reconnect_attempts is not None and attempts > self.max_reconnect_attempts:
                raise ConnectionError(f"gave up after {attempts} attempts") from error
            delay = next(delays)
            self.on_state("reconnecting", {"attempt": attempts, "delay": round(delay, 2), "error": str(error)})
            await asyncio.sleep(delay)

    def _adopt(self, ws: ClientConnection) -> None:
        """Make `ws` the connection actions are sent on, and read it."""
        self.ws = ws
        self._opened_at = self._last_sent = time.monotonic()
        self._dropped.clear()
        self._connected.set()
        self._spawn(self._read(ws))

    async def join(self, timeout: float = 10.0) -> dict[str, Any]:
        """`join`, resuming from the last seq seen when there is one (the server replays what was missed)."""
        fields: dict[str, Any] = {}
        if self.order.last_seq is not None and self.epoch is not None:
            fields = {"sinceSeq": self.order.last_seq, "epoch": self.epoch}
        joined = await self.request("join", expect="joined", timeout=timeout, **fields)
        self._joined(joined, resumed=bool(fields))
        return joined

    def _joined(self, joined: dict[str, Any], *, resumed: bool) -> None:
        self.joined = joined
        session = joined.get("session") or {}
        seq, epoch = session.get("seq"), session.get("epoch")
        if resumed and joined.get("recovered") is False:
            self.resets += 1
            self.epoch = epoch if isinstance(epoch, str) else None
            self._hand_over(self.order.reset(seq if isinstance(seq, int) else 0))
            self.on_state("reset", {"session": session})
            return
        if not resumed:
            self.epoch = epoch if isinstance(epoch, str) else None
            if isinstance(seq, int):
                self._hand_over(self.order.baseline(seq))
            elif self.order.last_seq is None:
                self._hand_over(self.order.baseline(min(self.order.held, default=1) - 1))

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._finish()

    async def __aenter__(self) -> SessionClient:
        if self.ws is None:
            await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- keeping the connection going -------------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Reconnect after a drop, renew ahead of the connection-age cap, keep the connection active, and
        ask again when a gap does not fill. Ends when the session ends, on `close()` or on a fatal refusal."""
        try:
            while not self._closing and not self.ended:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dropped.wait(), self._tick())
                if self._closing or self.ended:
                    break
                if self._dropped.is_set():
                    if not self.reconnect:
                        break
                    await self._reconnect()
                elif self.renew_after is not None and time.monotonic() - self._opened_at >= self.renew_after:
                    await self._renew()
                else:
                    await self._keepalive_and_gaps()
        except Refused as refusal:
            self._failure = refusal  # the session is gone or ended, or the request is bad: retrying cannot help
        except ConnectionError as error:
            self._failure = error
        finally:
            if not self._closing:
                self._finish()

    def _tick(self) -> float:
        return max(0.05, min(self.gap_timeout / 2, 1.0))

    async def _reconnect(self) -> None:
        self._connected.clear()
        self.on_state("reconnecting", {"attempt": 0, "lastSeq": self.order.last_seq})
        ws = await self._connect_with_retry(first=False)
        self.reconnects += 1
        self._adopt(ws)
        await self._rejoin("reconnected")

    async def _renew(self) -> None:
        """Open the next connection before closing this one (API Gateway closes it at 2 hours): events that
        arrive on both are the same seq, dropped once; none falls between."""
        old = self.ws
        ws = await self._connect_with_retry(first=False)
        self.renewals += 1
        self._adopt(ws)
        await self._rejoin("renewed")
        if old is not None:
            await old.close()

    async def _rejoin(self, state: str) -> None:
        if not self.auto_join:
            return
        try:
            await self.join()
            self.on_state(state, {"connectionId": self.connection_id, "lastSeq": self.order.last_seq})
        except (ActionError, TimeoutError, ConnectionError) as error:
            logger.warning("re-join failed: %r", error)
            self._dropped.set()  # try the whole reconnect again

    async def _keepalive_and_gaps(self) -> None:
        now = time.monotonic()
        gap = self.order.gap_since
        if (gap is not None and now - gap >= self.gap_timeout or self.order.overflowing) and not self._recovering:
            self._recovering = True
            try:
                self.on_state("recovering", {"lastSeq": self.order.last_seq, "held": len(self.order.held)})
                await self._recover_gap()
            finally:
                self._recovering = False
        elif self.keepalive_interval is not None and now - self._last_sent >= self.keepalive_interval:
            with contextlib.suppress(ActionError, TimeoutError, ConnectionError):
                await self.ping()

    async def _recover_gap(self) -> None:
        """A gap that did not fill: ask for what follows the last seq; if that cannot be had, start over from
        the current view (the app is told)."""
        gap_at = self.order.gap_since
        with contextlib.suppress(ActionError, TimeoutError, ConnectionError):
            await self.join()
        await asyncio.sleep(self.gap_timeout)
        if self.order.gap_since is not None and self.order.gap_since == gap_at:  # still the same hole
            self.order.last_seq, self.epoch = None, None
            self.order.held.clear()
            self.order.gap_since = None
            with contextlib.suppress(ActionError, TimeoutError, ConnectionError):
                joined = await self.join()
                self.resets += 1
                self.on_state("reset", {"session": joined.get("session")})

    # -- sending -------------------------------------------------------------------------------------------

    async def send(self, action: str, **fields: Any) -> None:
        """Send one action without waiting for anything."""
        await self._connected.wait()
        if self.ws is None or self._failure is not None:
            raise ConnectionError("the session client is closed") from self._failure
        self._last_sent = time.monotonic()
        try:
            await self.ws.send(json.dumps({"action": action, **fields}, allow_nan=False))
        except ConnectionClosed as closed:
            raise ConnectionError("the connection closed; the client is reconnecting") from closed

    async def request(
        self, action: str, *, expect: str | Iterable[str], timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Send an action tagged with a fresh `id` and wait for the answer that echoes it (or an error)."""
        types = {expect} if isinstance(expect, str) else set(expect)
        request_id = fields.pop("id", None) or f"r{next(self._ids)}"
        future = self.wait_for(
            lambda m: m.get("id") == request_id and (m.get("type") in types or m.get("type") == "error")
        )
        self._requests.add(future)
        future.add_done_callback(self._requests.discard)
        await self.send(action, id=request_id, **fields)
        message = await asyncio.wait_for(future, timeout)
        if message.get("type") == "error" and "error" not in types:
            raise ActionError(message)
        return message

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> asyncio.Future[dict[str, Any]]:
        """A future for the next message that satisfies `predicate` (a message some waiter takes is not
        queued for iteration; every waiter it satisfies gets it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    async def ping(self, timeout: float = 10.0) -> dict[str, Any]:
        return await self.request("ping", expect="pong", timeout=timeout)

    async def history(self, since: int | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
        fields = {} if since is None else {"since": since}
        items: list[dict[str, Any]] = (await self.request("history", expect="history", timeout=timeout, **fields))[
            "items"
        ]
        return items

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
        message: dict[str, Any] = item
        return message

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                try:
                    message = json.loads(frame)
                except ValueError:
                    message = {"type": "_raw", "data": frame}
                if isinstance(message, dict):
                    self._on_message(message)
        except ConnectionClosed:
            pass
        if ws is self.ws and not self._closing:
            self._connected.clear()
            self._dropped.set()
            for future in list(self._requests):  # their answers would have come on this connection
                if not future.done():
                    future.set_exception(ConnectionError("the connection closed before the answer"))

    def _on_message(self, message: dict[str, Any]) -> None:
        kind, seq = message.get("type"), message.get("seq")
        taken = self._take(message)
        if kind in STREAM_TYPES:
            # An answer a request took (a speaker's `pause` -> sessionUpdated) still has its place in the stream.
            self._hand_over(self.order.taken(seq) if taken and isinstance(seq, int) else self.order.accept(message))
            return
        if kind == "broadcastSent" and isinstance(seq, int):
            self._hand_over(self.order.taken(seq))  # the speaker's own broadcast is never pushed to it: no gap
        if not taken:
            self._queue.put_nowait(message)

    def _hand_over(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event.get("type") == "sessionEnded":
                self.ended = True
                self._dropped.set()  # wakes the supervisor, which stops
            self._queue.put_nowait(event)

    def _take(self, message: dict[str, Any]) -> bool:
        """Resolve every waiter the message satisfies; True when one took it."""
        taken = False
        for entry in list(self._waiters):
            predicate, future = entry
            if future.done():
                self._waiters.remove(entry)
            elif predicate(message):
                self._waiters.remove(entry)
                future.set_result(message)
                taken = True
        return taken

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fail_waiters(self) -> None:
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._waiters.clear()

    def _finish(self) -> None:
        self._connected.set()  # wake senders so they fail fast instead of hanging
        self._fail_waiters()
        self._queue.put_nowait(_END)


async def connect(ws_url: str, session_id: str, token: str | None = None, **options: Any) -> SessionClient:
    """Open, join and return a `SessionClient` (use it with `async with`, or call `close()`)."""
    client = SessionClient(ws_url, session_id, token, **options)
    return await client.open()
