"""A crash with DynamoDB intact, through the local stack: every connection of the first stack is a ghost
(its record holds a seat, no `$disconnect` ever ran); the restarted stack's periodic sweep asks its
`@connections` endpoint about each (410: gone), unregisters them, and a join refused as full gets a seat
within one sweep interval. Ghosts past the handshake window do not wait for the sweep: the first join that
finds the session full frees them (`python -m local serve` killed with SIGKILL, every worker process with it).
The table lives in a standalone moto server that outlives both stacks."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.cognito import LocalIssuer
from local.stack import issuer_url
from tests.support.cli import Cli, alive, descendants, free_port
from tests.support.local_stack import create_session, open_ws, running_local_stack, ws_url
from tests.support.other_dynamodb import OtherDynamoDb

pytestmark = pytest.mark.e2e

SEATS = 4
SWEEP_INTERVAL = 2.0
GRACE = "1"  # GHOST_GRACE_SECONDS: the ghosts are older than this when the restarted stack sweeps
HANDSHAKE_WINDOW_MAX = 29  # HANDSHAKE_WINDOW_SECONDS at its largest (API Gateway's integration timeout)


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
    # The widest handshake window, so the join refused as full does not free the ghosts itself (the second
    # test's case) unless the machine is so slow that they are past it by then: this test is the sweep's.
    overrides = {"GHOST_GRACE_SECONDS": GRACE, "HANDSHAKE_WINDOW_SECONDS": str(HANDSHAKE_WINDOW_MAX)}
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
            filled_at = time.monotonic()
            assert _listener_count(first, session_id) == SEATS
            # Every open socket dies (a refused handshake's may still be leaving the gateway's list: its own
            # teardown, not a close of a seated one; the restarted stack's count below shows no seat was freed).
            severed = sum(first.sever_connection(connection_id) for connection_id in first.live_connections())
            assert severed >= SEATS + 1  # the speaker and every listener
        # The restarted stack on the same table: the seats are still taken by connections nobody has.
        with running_local_stack(
            dynamodb_endpoint=table.url, settings_overrides=overrides, sweep_interval=SWEEP_INTERVAL, **names
        ) as second:
            started = time.monotonic()
            assert _listener_count(second, session_id) == SEATS
            ghosts_young = time.monotonic() - filled_at < HANDSHAKE_WINDOW_MAX - 1
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
    # Before the sweep: refused as full while ghosts held every seat (ghosts already past the handshake window
    # would have been freed by that join itself).
    assert refused == 429 or not ghosts_young
    # Every ghost seat freed by the first sweep that ran (the first one is SWEEP_INTERVAL after start).
    assert freed_after is not None and freed_after < 2 * SWEEP_INTERVAL + 3, freed_after
    assert joined == 101  # the join refused as full now gets a seat
    assert speaker["speakerConnected"] is False  # the ghost speaker is gone too: the session is speakerless


WINDOW = 1  # HANDSHAKE_WINDOW_SECONDS: the ghosts are older than this when the restarted stack is asked to seat one


def _serve(directory: Path, table: OtherDynamoDb) -> tuple[Cli, int, int]:
    """`python -m local serve` over `table`, in its own process group; it, and its HTTP and WebSocket ports."""
    http_port, ws_port = free_port(), free_port()
    server = Cli(
        directory, "serve", "serve", "--http-port", str(http_port), "--ws-port", str(ws_port),
        "--state-dir", str(directory / "state"), "--sweep-interval", "0", "--dynamodb-endpoint", table.url,
        "--env", f"HANDSHAKE_WINDOW_SECONDS={WINDOW}",
        start_new_session=True,
    )
    server.wait_until(lambda cli: "Ctrl-C stops." in cli.stdout, "the ready banner", timeout=90)
    return server, http_port, ws_port


def _kill_everything(server: Cli) -> None:
    """SIGKILL to the stack and every process it started: no socket closed, no `$disconnect` run."""
    processes = descendants(server.process.pid) | {server.process.pid}
    os.killpg(server.process.pid, signal.SIGKILL)
    for straggler in alive(processes):  # a process that left the group
        os.kill(straggler, signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(processes)


def test_a_full_session_whose_listeners_died_with_the_stack_admits_a_listener_at_once_after_the_restart(
    tmp_path: Path,
) -> None:
    overrides = {"HANDSHAKE_WINDOW_SECONDS": str(WINDOW)}
    with OtherDynamoDb() as table:
        server, http_port, ws_port = _serve(tmp_path, table)
        http_url, ws = f"http://127.0.0.1:{http_port}", f"ws://127.0.0.1:{ws_port}"
        try:
            owner = LocalIssuer.load_or_create(tmp_path / "state", issuer_url("127.0.0.1", http_port)).mint("alice")
            created = requests.post(
                f"{http_url}/sessions", json={"maxListeners": SEATS}, headers={"Authorization": f"Bearer {owner}"},
                timeout=15,
            )
            assert created.status_code == 201, created.text
            session_id = created.json()["sessionId"]
            sockets = [connect(f"{ws}/?sessionId={session_id}&token={owner}", proxy=None, legacy=True)]
            sockets += [connect(f"{ws}/?sessionId={session_id}", proxy=None, legacy=True) for _ in range(SEATS)]
            full = asyncio.run(_join_status(f"{ws}/?sessionId={session_id}"))
            registered = time.time()
            _kill_everything(server)
        finally:
            server.stop()
        for dead in sockets:
            dead.close()
        assert full == 429
        # The ghosts are past the handshake window (a 410 before `$connect` has returned says nothing).
        time.sleep(max(0.0, registered + WINDOW - time.time()))
        with running_local_stack(dynamodb_endpoint=table.url, settings_overrides=overrides) as second:
            assert _listener_count(second, session_id) == SEATS  # every seat held by a ghost
            restarted = time.monotonic()
            # The first join after the restart is admitted: it freed the ghost seats itself (no sweep runs).
            newcomer = connect(ws_url(second, session_id), proxy=None, legacy=True)
            admitted_after = time.monotonic() - restarted
            count = _listener_count(second, session_id)
            newcomer.close()
    print(f"the first join after the restart was admitted in {admitted_after:.2f} s")
    assert count == 1  # every ghost listener was probed and freed by that join: only the newcomer is counted
