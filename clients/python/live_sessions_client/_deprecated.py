"""The names of version 0.1, kept for one version; each warns (DeprecationWarning) and says what replaces it.

- `SessionClient(ws_url, session_id, token, on_state=..., backoff_initial=..., ...)` -> `LiveSession`: its
  `broadcast()`, `send_message()`, `send()` and `control()` still only send, and their answers still arrive in
  the `async for` (a `LiveSession`'s actions return their answer instead); `on_state(name, info)` still gets
  "reconnecting", "reconnected" and "reset".
- `control(action)` -> `pause()`, `resume()`, `mute()`, `unmute()`, `end()`.
- `StreamOrder` -> `StreamOrderer`; `backoff_delays` -> `backoff_delay`; `session_url` -> `connect_url`;
  `connect(...)` -> `LiveSession(...).connect()` (or `async with LiveSession(...)`); `Refused` -> `RefusedError`.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from .backoff import BackoffOptions, backoff_delay
from .client import API_GATEWAY_MAX_CONNECTION_SECONDS, LiveSession, StateChange, connect_url
from .errors import ActionError, LiveSessionError
from .protocol import SessionView, is_stream_event
from .stream import StreamOrderer

DEPRECATED_ALIASES: dict[str, str] = {"Refused": "RefusedError"}


def deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(f"live_sessions_client: {old} is deprecated; use {new}", DeprecationWarning, stacklevel=stacklevel)


class SessionClient(LiveSession):
    def __init__(
        self,
        ws_url: str,
        session_id: str,
        token: str | None = None,
        *,
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
        **ignored: Any,  # auto_join: a LiveSession always joins
    ) -> None:
        deprecated("SessionClient", "LiveSession (its actions return their answers)")
        self._legacy_on_state = on_state or (lambda state, info: None)
        super().__init__(
            ws_url,
            session_id,
            token=token,
            keepalive=keepalive_interval,
            open_timeout=open_timeout,
            backoff=BackoffOptions(initial=backoff_initial, max=backoff_cap),
            max_attempts=max_reconnect_attempts if reconnect else 0,
            gap_timeout=gap_timeout,
            max_buffered=max_held,
            renew_after=renew_after,
            on_state=self._legacy_state,
        )

    def _legacy_state(self, change: StateChange) -> None:
        if change.state == "reconnecting" and change.retry_in is not None:
            info = {"attempt": change.attempt, "delay": round(change.retry_in, 2), "error": str(change.error)}
            self._legacy_on_state("reconnecting", info)
        elif change.state == "connected" and change.previous == "reconnecting" and self.joined is not None:
            self._legacy_on_state("reconnected", {"connectionId": self.connection_id, "lastSeq": self.last_seq})

    def _reset(self, session: SessionView, reason: Any) -> None:
        super()._reset(session, reason)
        self._legacy_on_state("reset", {"session": session})

    async def open(self) -> SessionClient:
        await self.connect()
        return self

    async def request(self, action: str, *, expect: object = None, timeout: float | None = None, **fields: Any) -> Any:
        """`expect` is not needed any more: the answer is the frame that echoes the action's `id`."""
        return await super().request(action, **fields)

    async def send(self, action: str, **fields: Any) -> None:
        """Sends without waiting; the answer (or the `error`) arrives in the `async for`, as in 0.1."""
        link = await self._when_connected()
        self._spawn(self._answer_into_events(link.ws, action, fields))

    async def _answer_into_events(self, ws: Any, action: str, fields: dict[str, Any]) -> None:
        try:
            answer = await self._send(ws, action, fields, self._request_timeout)
        except ActionError as refused:
            self._queue.put_nowait(refused.frame)
            return
        except LiveSessionError:
            return  # 0.1 said nothing either: the reconnect's resume is what the app relies on
        if not is_stream_event(answer):  # a stream event is in the stream already
            self._queue.put_nowait(answer)

    async def broadcast(self, data: Any) -> None:  # type: ignore[override]
        await self.send("broadcast", data=data)

    async def send_message(self, text: str) -> None:  # type: ignore[override]
        await self.send("sendMessage", text=text)

    async def control(self, action: str) -> None:
        deprecated("control(action)", "pause(), resume(), mute(), unmute() or end()")
        await self.send(action)

    async def history(self, since: int | None = None, timeout: float = 10.0) -> Any:  # type: ignore[override]
        return (await super().history(since=since))["items"]

    async def next_message(self, timeout: float = 10.0) -> dict[str, Any]:
        async for event in self:
            return event
        raise ConnectionError("the session client is closed")


class StreamOrder:
    """0.1's stream order: methods that return what can be handed over now, over a `StreamOrderer`."""

    def __init__(self, max_held: int = 1000) -> None:
        deprecated("StreamOrder", "StreamOrderer")
        self._out: list[dict[str, Any]] = []
        self._orderer: StreamOrderer[dict[str, Any]] = StreamOrderer(self._out.append, max_held)
        self.max_held = max_held

    @property
    def last_seq(self) -> int | None:
        return self._orderer.last

    @property
    def duplicates(self) -> int:
        return self._orderer.stats.duplicates

    @property
    def overflowing(self) -> bool:
        return self._orderer.buffered >= self.max_held

    def baseline(self, seq: int) -> list[dict[str, Any]]:
        last = self._orderer.last
        self._orderer.release(seq if last is None else max(seq, last))
        return self._take()

    def reset(self, seq: int) -> list[dict[str, Any]]:
        self._orderer.release(seq)
        return self._take()

    def accept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(event.get("seq"), int):
            return [event]
        self._orderer.push(event)
        return self._take()

    def taken(self, seq: int) -> list[dict[str, Any]]:
        self._orderer.mark_seen(seq)
        return self._take()

    def _take(self) -> list[dict[str, Any]]:
        out, self._out[:] = list(self._out), []
        return out


def backoff_delays(initial: float = 0.5, cap: float = 30.0, factor: float = 2.0) -> Iterator[float]:
    deprecated("backoff_delays", "backoff_delay(attempt, BackoffOptions(...))")
    options = BackoffOptions(initial=initial, max=cap, factor=factor)
    attempt = 0
    while True:
        yield backoff_delay(attempt, options, random.random)
        attempt += 1


def session_url(ws_url: str, session_id: str, token: str | None = None) -> str:
    deprecated("session_url", "connect_url")
    return connect_url(ws_url, session_id, token)


async def connect(ws_url: str, session_id: str, token: str | None = None, **options: Any) -> SessionClient:
    deprecated("connect(...)", "LiveSession(...).connect(), or `async with LiveSession(...)`")
    client = SessionClient(ws_url, session_id, token, **options)
    return await client.open()
