"""Presence and reactions through the local stack with real sockets: the WebSocket function in several execution
environments, trailing notices through the local notice queue (local/sqs/) into the fan-out worker's own
environments. Arrival is asserted, never timing; the rate of notices is counted against the seconds elapsed."""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from session_protocol import versions

from tests.support.local_stack import create_session, http, next_of_type, open_ws, running_local_stack

pytestmark = pytest.mark.e2e
WAVE = 10  # listeners connecting at once
ARRIVAL = 20.0  # seconds to wait for what must arrive (a loaded machine), never asserted as a bound


@pytest.fixture(scope="module")
def local():
    with running_local_stack() as stack:
        yield stack


def _url(local: Any, session_id: str, **query: str) -> str:
    return f"{local.urls.ws}/?{urlencode({'sessionId': session_id, 'v': str(versions.PRESENCE), **query})}"


async def _joined(local: Any, session_id: str, **query: str) -> tuple[Any, str]:
    ws = await open_ws(_url(local, session_id, **query))
    await ws.send(json.dumps({"action": "join"}))
    joined = await next_of_type(ws, "joined", ARRIVAL)
    return ws, joined["connectionId"]


async def _until(ws: Any, kind: str, done: Any) -> list[dict[str, Any]]:
    """Every `kind` message until one satisfies `done` (all of them, that one last)."""
    seen: list[dict[str, Any]] = []
    while True:
        seen.append(await next_of_type(ws, kind, ARRIVAL))
        if done(seen[-1], seen):
            return seen


def _room(local: Any) -> tuple[str, str]:
    token = local.mint("owner-presence")
    return create_session(local, token, maxListeners=200), token


def test_members_are_listed_and_set_presence_and_a_leave_reach_the_speaker(local):
    session_id, token = _room(local)

    async def scenario() -> None:
        speaker, _ = await _joined(local, session_id, token=token)
        ann, ann_id = await _joined(local, session_id, name="Ann")
        bob, bob_id = await _joined(local, session_id, token=local.mint("bob"))
        await speaker.send(json.dumps({"action": "presence", "id": "p1"}))
        listed = await next_of_type(speaker, "presence", ARRIVAL)
        members = {m["connectionId"]: m for m in listed["members"]}
        assert listed["count"] == 3
        assert members[ann_id]["name"] == "Ann" and members[bob_id]["userId"] == "bob"
        await ann.send(json.dumps({"action": "setPresence", "data": {"hand": True}}))
        await _until(
            speaker, "presenceChanged", lambda m, _: any(u["connectionId"] == ann_id for u in m.get("updated", []))
        )
        await bob.close()
        last = await _until(speaker, "presenceChanged", lambda m, _: bob_id in m.get("left", []))
        assert last[-1]["count"] == 2
        await ann.close()
        await speaker.close()

    asyncio.run(scenario())


def test_listeners_joining_fast_are_told_at_most_once_a_second_and_the_last_notice_is_exact(local):
    session_id, token = _room(local)
    listeners = 50

    async def scenario() -> None:
        speaker, _ = await _joined(local, session_id, token=token)
        started = time.monotonic()
        joined: list[tuple[Any, str]] = []
        for wave in range(0, listeners, WAVE):  # as fast as the embedded DynamoDB takes them on a shared machine
            size = min(WAVE, listeners - wave)
            joined += await asyncio.gather(*(_joined(local, session_id, name=f"L{wave + k}") for k in range(size)))
        expected = {connection_id for _, connection_id in joined}

        def told(notices: list[dict[str, Any]]) -> set[str]:
            return {m["connectionId"] for notice in notices for m in notice.get("joined", [])}

        # The count is read when a notice is sent, and counts a listener from its $connect; its `joined` entry is
        # recorded by its `join` action, a moment later: so a notice may already count one whose entry the next
        # notice brings. What the speaker relies on is the state after the last change: every member told, and
        # the exact count, in the end.
        notices = await _until(
            speaker, "presenceChanged", lambda m, seen: m["count"] == listeners + 1 and told(seen) == expected
        )
        elapsed = time.monotonic() - started
        assert told(notices) == expected
        assert len(notices) <= math.ceil(elapsed) + 1, (len(notices), elapsed)
        for ws, _ in joined:
            await ws.close()
        await speaker.close()

    asyncio.run(scenario())


def test_reactions_from_many_listeners_add_up_exactly(local):
    session_id, token = _room(local)

    async def scenario() -> None:
        speaker, _ = await _joined(local, session_id, token=token)
        listeners = await asyncio.gather(*(_joined(local, session_id) for _ in range(WAVE)))
        listeners += await asyncio.gather(*(_joined(local, session_id) for _ in range(WAVE)))
        for _ in range(5):
            await asyncio.gather(*(ws.send(json.dumps({"action": "react", "reaction": "👏"})) for ws, _ in listeners))
        total = [0]

        def counted(message: dict[str, Any], _: Any) -> bool:
            total[0] += message["counts"].get("👏", 0)
            return total[0] >= 100

        await _until(speaker, "reactions", counted)
        assert total[0] == 100
        for ws, _ in listeners:
            await ws.close()
        await speaker.close()

    asyncio.run(scenario())


def test_the_speaker_kicks_and_bans_a_listener(local):
    session_id, token = _room(local)

    async def scenario() -> None:
        speaker, _ = await _joined(local, session_id, token=token)
        pest, pest_id = await _joined(local, session_id, token=local.mint("mallory"))
        await speaker.send(json.dumps({"action": "kick", "connectionId": pest_id, "ban": True, "id": "k"}))
        assert (await next_of_type(speaker, "kicked", ARRIVAL))["banned"] is True
        assert (await next_of_type(pest, "kicked", ARRIVAL))["connectionId"] == pest_id
        await pest.wait_closed()
        await _until(speaker, "presenceChanged", lambda m, _: pest_id in m.get("left", []))
        view = http(local, "GET", f"/sessions/{session_id}").json()
        assert view["listenerCount"] == 0
        with pytest.raises(Exception, match="403"):
            await open_ws(_url(local, session_id, token=local.mint("mallory")))
        await speaker.close()

    asyncio.run(scenario())
