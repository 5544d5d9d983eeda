"""A crash with DynamoDB intact, through the local stack: every connection of the first stack is a ghost
(its record holds a seat, no `$disconnect` ever ran); the restarted stack's periodic sweep asks its
`@connections` endpoint about each (410: gone), unregisters them, and a join refused as full gets a seat
within one sweep interval. The table lives in a standalone moto server that outlives both stacks."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import requests
from websockets.exceptions import InvalidStatus

from tests.support.local_stack import create_session, open_ws, running_local_stack, ws_url
from tests.support.other_dynamodb import OtherDynamoDb

pytestmark = pytest.mark.e2e

SEATS = 4
SWEEP_INTERVAL = 2.0
GRACE = "1"  # GHOST_GRACE_SECONDS: the ghosts are older than this when the restarted stack sweeps


async def _join_status(url: str) -> int:
    try:
        ws = await open_ws(url)
    except InvalidStatus as refused:
        return refused.response.status_code
    await ws.close()
    return 101


def _listener_count(stack, session_id: str) -> int:
    return requests.get(f"{stack.urls.http}/sessions/{session_id}", timeout=10).json()["listenerCount"]


def test_a_crash_with_the_table_intact_frees_every_ghost_seat_within_one_sweep() -> None:
    names = {"table_name": f"ghosts-{uuid.uuid4().hex[:8]}", "bucket_name": f"ghosts-{uuid.uuid4().hex[:8]}"}
    overrides = {"GHOST_GRACE_SECONDS": GRACE}
    with OtherDynamoDb() as table:
        # The first stack: a full session (its speaker and every seat taken), then a crash: every socket dies
        # without a close and no $disconnect runs, but the table keeps every record.
        with running_local_stack(dynamodb_endpoint=table.url, settings_overrides=overrides, **names) as first:
            session_id = create_session(first, first.mint("alice"), maxListeners=SEATS)

            async def fill() -> None:
                await open_ws(ws_url(first, session_id, first.mint("alice")))
                for _ in range(SEATS):
                    await open_ws(ws_url(first, session_id))
                assert await _join_status(ws_url(first, session_id)) == 429  # full

            asyncio.run(fill())
            assert _listener_count(first, session_id) == SEATS
            for connection_id in first.live_connections():
                assert first.sever_connection(connection_id)
        # The restarted stack on the same table: the seats are still taken by connections nobody has.
        with running_local_stack(
            dynamodb_endpoint=table.url, settings_overrides=overrides, sweep_interval=SWEEP_INTERVAL, **names
        ) as second:
            started = time.monotonic()
            assert _listener_count(second, session_id) == SEATS
            refused = asyncio.run(_join_status(ws_url(second, session_id)))
            freed_after = None
            while time.monotonic() - started < 3 * SWEEP_INTERVAL + 10:
                if _listener_count(second, session_id) == 0:
                    freed_after = time.monotonic() - started
                    break
                time.sleep(0.2)
            joined = asyncio.run(_join_status(ws_url(second, session_id)))
            speaker = requests.get(
                f"{second.urls.http}/sessions/{session_id}",
                headers={"Authorization": f"Bearer {second.mint('alice')}"},
                timeout=10,
            ).json()
    print(f"ghost seats freed {freed_after:.1f} s after the restart (sweep every {SWEEP_INTERVAL} s)")
    assert refused == 429  # before the sweep: refused as full while ghosts held every seat
    # Every ghost seat freed by the first sweep that ran (the first one is SWEEP_INTERVAL after start).
    assert freed_after is not None and freed_after < 2 * SWEEP_INTERVAL + 3, freed_after
    assert joined == 101  # the join refused as full now gets a seat
    assert speaker["speakerConnected"] is False  # the ghost speaker is gone too: the session is speakerless
