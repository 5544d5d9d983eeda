"""The Python client's presence, reactions and kick against the real handlers through the local stack: a named
listener listed for the speaker, its presence data and its reaction reaching the speaker, and a kick with ban that
ends the listener's client without a reconnect and keeps its name out (a final 403 FORBIDDEN). One stack, one
session, one listener: the load and conflation figures are the server's tests and benchmark."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from live_sessions_client import LiveSession, RefusedError

from session_protocol.asyncapi import document

from tests.support.local_stack import create_session

SERVER_HAS_PRESENCE = "presence" in document()["operations"]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not SERVER_HAS_PRESENCE, reason="the server has no presence action yet (issue 27, server)"),
]

NOTICE_WAIT = 10.0  # seconds: a generous bound for conflated notices (the 2 s guarantee is the server's test)


class Collector:
    """Reads a client's pushed frames in the background; `first` waits for one that satisfies a test."""

    def __init__(self, live: LiveSession) -> None:
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self.task = asyncio.create_task(self._read(live))

    async def _read(self, live: LiveSession) -> None:
        async for frame in live:
            async with self._arrived:
                self.frames.append(frame)
                self._arrived.notify_all()

    async def until(self, check: Callable[[list[dict[str, Any]]], bool]) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: check(self.frames)), NOTICE_WAIT)

    async def first(self, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        await self.until(lambda frames: any(map(test, frames)))
        return next(frame for frame in self.frames if test(frame))


def reaction_totals(frames: list[dict[str, Any]]) -> dict[str, int]:
    """Every `reactions` notice's counts, added up."""
    totals: dict[str, int] = {}
    for frame in frames:
        for reaction, count in frame.get("counts", {}).items() if frame["type"] == "reactions" else ():
            totals[reaction] = totals.get(reaction, 0) + count
    return totals


def pick(members: list[dict[str, Any]], member: dict[str, Any]) -> dict[str, Any]:
    """The last of `members` that is `member`'s connection, or {}."""
    return next((m for m in reversed(members) if m["connectionId"] == member["connectionId"]), {})


def changed(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The members a `presenceChanged` says joined or were updated."""
    return [*frame.get("joined", []), *frame.get("updated", [])] if frame["type"] == "presenceChanged" else []


def test_named_member_data_reaction_and_a_kick_with_ban(stack) -> None:
    session_id = create_session(stack, stack.mint("alice"))

    async def scenario() -> None:
        speaker = LiveSession(stack.urls.ws, session_id, token=stack.mint("alice"), name="Alice", keepalive=None)
        listener = LiveSession(stack.urls.ws, session_id, name="Ada", keepalive=None)
        await speaker.connect()
        heard = Collector(speaker)
        await listener.connect()
        listener_saw = Collector(listener)

        page = await speaker.presence()
        by_id = {member["connectionId"]: member for member in page["members"]}
        ada = by_id[listener.connection_id or ""]
        assert (ada["role"], ada.get("name"), page["count"]) == ("listener", "Ada", 2)
        assert by_id[speaker.connection_id or ""].get("name") == "Alice"

        answer = await listener.set_presence({"hand": True})
        assert answer["member"].get("data") == {"hand": True}
        assert {"hand": True} in [member.get("data") for member in (await speaker.presence())["members"]]
        assert len([page async for page in speaker.presence_pages(limit=1)]) == 2
        await heard.first(lambda f: {"name": "Ada", "data": {"hand": True}}.items() <= pick(changed(f), ada).items())

        assert (await listener.react("👏", confirm=True))["reaction"] == "👏"
        assert await listener.react("clap") is True
        await heard.until(lambda frames: reaction_totals(frames) == {"👏": 1, "clap": 1})

        kicked = await speaker.kick(listener.connection_id or "", ban=True)
        assert (kicked["type"], kicked["connectionId"], kicked["banned"]) == ("kicked", listener.connection_id, True)
        await asyncio.wait_for(listener_saw.task, NOTICE_WAIT)  # the iteration ends: no reconnect
        assert listener_saw.frames[-1]["type"] == "kicked" and listener.state == "closed" and listener.reconnects == 0
        assert speaker.state == "connected"
        assert [member["connectionId"] for member in (await speaker.presence())["members"]] == [speaker.connection_id]
        left = await heard.first(lambda f: f["type"] == "presenceChanged" and ada["connectionId"] in f.get("left", []))
        assert left["count"] == 1

        with pytest.raises(RefusedError) as banned:
            await LiveSession(stack.urls.ws, session_id, name="Ada", keepalive=None).connect()
        assert (banned.value.code, banned.value.status, banned.value.retryable) == ("FORBIDDEN", 403, False)
        await speaker.close()

    asyncio.run(scenario())
