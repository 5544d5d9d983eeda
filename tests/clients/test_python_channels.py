"""The Python client's channels against the real handlers behind the local stack: `subscribe` switches streams,
a listener on a channel resumes both streams after a drop, and `publish` over HTTP reaches one channel's
listeners with each event's stream and seq. One stack for the module."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import pytest
from live_sessions_client import BackoffOptions, HttpApi, LiveSession, RefusedError

pytestmark = pytest.mark.e2e

CHANNELS = ["es", "fr"]
WAIT = 10.0  # seconds: a bound on waiting for the local stack, never a measured figure


class Seen:
    """Every broadcast a client hands to its app, as (channel, seq, data)."""

    def __init__(self, live: LiveSession) -> None:
        self.items: list[tuple[str | None, int, Any]] = []
        self._task = asyncio.get_running_loop().create_task(self._read(live))

    async def _read(self, live: LiveSession) -> None:
        async for event in live:
            if event["type"] == "broadcast":
                self.items.append((event.get("channel"), event["seq"], event["data"]))

    async def until(self, count: int) -> list[tuple[str | None, int, Any]]:
        async with asyncio.timeout(WAIT):
            while len(self.items) < count:
                await asyncio.sleep(0.02)
        return self.items


async def _talk(stack: Any) -> tuple[str, LiveSession, Callable[..., LiveSession]]:
    api = HttpApi(stack.urls.http, stack.mint("alice"))
    session = await api.create_session(title="channels", channels=CHANNELS)
    speaker = LiveSession(stack.urls.ws, session["sessionId"], token=stack.mint("alice"), http_url=stack.urls.http)
    await speaker.connect()

    def listener(**options: Any) -> LiveSession:
        return LiveSession(stack.urls.ws, session["sessionId"], backoff=BackoffOptions(0.05, 0.2), **options)

    return session["sessionId"], speaker, listener


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_subscribe_switches_a_listener_from_one_channels_stream_to_another(stack) -> None:
    async def scenario() -> None:
        _, speaker, listener = await _talk(stack)
        async with listener(channel="es") as live:
            seen = Seen(live)
            assert (await speaker.broadcast("es 1", channel="es"))["channel"] == "es"
            await seen.until(1)
            await speaker.broadcast("fr 1", channel="fr")
            switched = await live.subscribe("fr")
            assert (switched["channel"], switched["seq"]) == ("fr", 1) and live.channel == "fr"
            await speaker.broadcast("es 2", channel="es")
            await speaker.broadcast("fr 2", channel="fr")
            everyone = await speaker.broadcast("all")
            assert await seen.until(3) == [("es", 1, "es 1"), ("fr", 2, "fr 2"), (None, everyone["seq"], "all")]
            assert (live.position and live.position.channel, live.position and live.position.channel_seq) == ("fr", 2)
        await speaker.close()

    _run(scenario)


def _server_closes(stack: Any, connection_id: str) -> None:
    """What API Gateway's management API does to end a connection: DELETE @connections/{id} (the local stack's)."""
    url = f"{stack.urls.http}/_connections/@connections/{quote(connection_id, safe='')}"
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=WAIT) as answer:
        assert answer.status == 204


def test_a_listener_on_a_channel_resumes_both_streams_after_a_drop(stack) -> None:
    async def scenario() -> None:
        _, speaker, listener = await _talk(stack)
        live = listener(channel="es")
        await live.connect()
        seen = Seen(live)
        await speaker.broadcast("es 1", channel="es")
        await seen.until(1)
        # Hold the reconnect until the events it must recover are published (the client's network seam).
        away = asyncio.Event()
        handshake = live._open_once

        async def held_handshake() -> Any:
            await away.wait()
            return await handshake()

        live._open_once = held_handshake  # type: ignore[method-assign]
        await asyncio.to_thread(_server_closes, stack, live.connection_id)
        await speaker.broadcast("es 2", channel="es")
        everyone = await speaker.broadcast("all")
        await speaker.broadcast("es 3", channel="es")
        await speaker.broadcast("fr 1", channel="fr")
        away.set()
        got = await seen.until(4)
        # Each stream in its own order, once each (the replay brings the session's stream first, then the channel's).
        assert [item for item in got if item[0] == "es"] == [("es", 1, "es 1"), ("es", 2, "es 2"), ("es", 3, "es 3")]
        assert [item for item in got if item[0] is None] == [(None, everyone["seq"], "all")] and len(got) == 4
        assert live.reconnects == 1 and live.resets == 0 and live.joined and live.joined.get("recovered") is True
        assert live.position is not None and live.position.channel_seq == 3
        await live.close()
        await speaker.close()

    _run(scenario)


def test_publish_over_http_reaches_one_channels_listeners_with_each_events_stream_and_seq(stack) -> None:
    async def scenario() -> None:
        session_id, speaker, listener = await _talk(stack)
        async with listener(channel="es") as es, listener(channel="fr") as fr, listener() as nowhere:
            heard = {name: Seen(live) for name, live in (("es", es), ("fr", fr), ("none", nowhere))}
            answer = await speaker.publish([{"data": "hola"}, {"data": "salut", "channel": "fr"}], channel="es")
            assert answer["items"] == [{"channel": "es", "seq": 1}, {"channel": "fr", "seq": 1}]
            everyone = await speaker.publish({"data": "all"})
            (item,) = everyone["items"]
            assert item["channel"] is None
            assert await heard["es"].until(2) == [("es", 1, "hola"), (None, item["seq"], "all")]
            assert await heard["fr"].until(2) == [("fr", 1, "salut"), (None, item["seq"], "all")]
            assert await heard["none"].until(1) == [(None, item["seq"], "all")]
            page = await HttpApi(stack.urls.http).events(session_id, 0, channel="es")
            assert [event["data"] for event in page["items"]] == ["hola"]
        with pytest.raises(RefusedError) as refused:
            await listener(channel="de").connect()
        assert refused.value.code == "INVALID_CHANNEL" and not refused.value.retryable
        await speaker.close()

    _run(scenario)
