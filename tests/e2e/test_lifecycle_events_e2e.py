"""Lifecycle events through the local stack: the embedded DynamoDB's stream, read by the stack's poller into the
events function's own execution environments, put on the local bus and POSTed to a webhook (`serve --webhook`)
as an EventBridge API destination would. Each event matches its published schema."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from local.eventbridge import WEBHOOK_KEY, WEBHOOK_KEY_HEADER
from tests.support.cli import REPO, cli_env, free_port
from tests.support.local_stack import create_session, http, open_ws, running_local_stack, ws_url
from tests.support.stream_records import assert_envelope_matches

pytestmark = pytest.mark.e2e


class Webhook:
    """A receiver on a free port: every POSTed envelope, in arrival order (refused without the key)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get(WEBHOOK_KEY_HEADER) != WEBHOOK_KEY:
                    self.send_response(401)
                else:
                    with webhook._arrived:
                        webhook.received.append(json.loads(body))
                        webhook._arrived.notify_all()
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def of_session(self, session_id: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e["detail"]["sessionId"] == session_id]

    def wait_for(self, session_id: str, detail_type: str, timeout: float = 30) -> list[dict[str, Any]]:
        """The session's events once one of `detail_type` has arrived (fails the test after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not any(e["detail-type"] == detail_type for e in self.of_session(session_id)):
                left = deadline - time.monotonic()
                if left <= 0:
                    types = [e["detail-type"] for e in self.of_session(session_id)]
                    pytest.fail(f"no {detail_type} for {session_id} within {timeout} s; received {types}")
                self._arrived.wait(left)
            return self.of_session(session_id)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def stack(webhook: Webhook) -> Iterator[Any]:
    # The HTTP function can be told to die right after its write (tests/support/lifecycle_faults.py).
    from local.lambda_service import HandlerSpec

    handlers = HandlerSpec(http="tests.support.lifecycle_faults.http")
    with running_local_stack(webhook_url=webhook.url, handlers=handlers) as local:
        yield local


def _status(stack: Any, token: str, session_id: str, status: str, **headers: str) -> Any:
    return http(stack, "PATCH", f"/sessions/{session_id}", token, json={"status": status}, headers=headers)


def _live_pause_leave_end(stack: Any, webhook: Webhook, owner: str, session_id: str, url: str) -> list[dict[str, Any]]:
    """A listener connects at `url`, the owner pauses, the listener leaves, the owner ends the session (each step
    once the webhook has the event of the one before): the session's events then."""

    async def life() -> None:
        listener = await open_ws(url)
        webhook.wait_for(session_id, "Session Occupied")
        assert _status(stack, owner, session_id, "paused").status_code == 200
        webhook.wait_for(session_id, "Session Updated")
        await listener.close()
        webhook.wait_for(session_id, "Session Vacated")

    asyncio.run(life())
    assert http(stack, "DELETE", f"/sessions/{session_id}", owner).status_code == 204
    return webhook.wait_for(session_id, "Session Ended")


def test_a_sessions_life_reaches_the_webhook_in_order_each_matching_its_schema(stack, webhook: Webhook) -> None:
    owner = stack.mint("alice")
    session_id = create_session(stack, owner, title="Launch")
    events = _live_pause_leave_end(stack, webhook, owner, session_id, ws_url(stack, session_id))
    assert [e["detail-type"] for e in events] == [
        "Session Created",
        "Session Occupied",
        "Session Updated",
        "Session Vacated",
        "Session Ended",
    ]
    details = [assert_envelope_matches(e) for e in events]
    assert details[2]["changes"] == {"status": {"from": "active", "to": "paused"}}
    assert all(d["ownerId"] == "alice" for d in details)
    assert len({d["id"] for d in details}) == 5
    sequence = [int(d["sequenceNumber"]) for d in details]
    assert sequence == sorted(sequence), "the ordering key follows the order of the changes"
    # What the bus was put is what `python -m local events` prints, the same envelopes in the same order.
    command = [sys.executable, "-m", "local", "events", "--state-dir", str(stack.state_dir)]
    cli = subprocess.run(command, cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=60)  # noqa: S603
    printed = [json.loads(line) for line in cli.stdout.splitlines()]
    assert [e["detail"]["id"] for e in printed if e["detail"]["sessionId"] == session_id] == [d["id"] for d in details]


def test_a_status_change_whose_writer_died_right_after_its_write_is_still_announced(stack, webhook: Webhook) -> None:
    owner = stack.mint("alice")
    session_id = create_session(stack, owner)
    answer = _status(stack, owner, session_id, "paused", **{"x-test-die-after-write": "1"})
    assert answer.status_code >= 500, "the worker died before it could answer"
    (updated,) = [e for e in webhook.wait_for(session_id, "Session Updated") if e["detail-type"] == "Session Updated"]
    assert assert_envelope_matches(updated)["changes"] == {"status": {"from": "active", "to": "paused"}}


def test_a_channel_sessions_life_reaches_the_webhook_with_channel_occupied_and_vacated_in_order(
    stack, webhook: Webhook
) -> None:
    """The issue's order: created, first listener on es, pause, last listener leaves, end; and a switch between
    channels announces the new channel occupied before the old one vacated, the session staying occupied."""
    owner = stack.mint("alice")
    session_id = create_session(stack, owner, title="Translated", channels=["en", "es"])
    events = _live_pause_leave_end(stack, webhook, owner, session_id, ws_url(stack, session_id) + "&channel=es")
    assert [e["detail-type"] for e in events] == [
        "Session Created",
        "Session Occupied",
        "Channel Occupied",
        "Session Updated",
        "Channel Vacated",
        "Session Vacated",
        "Session Ended",
    ]
    details = [assert_envelope_matches(e) for e in events]
    assert details[0]["channels"] == ["en", "es"]
    assert [(d["channel"], d["listenerCount"]) for d in (details[2], details[4])] == [("es", 1), ("es", 0)]
    assert details[3]["changes"] == {"status": {"from": "active", "to": "paused"}}
    assert len({d["id"] for d in details}) == len(details)


def test_a_listener_switching_channels_announces_the_new_one_occupied_then_the_old_one_vacated(
    stack, webhook: Webhook
) -> None:
    owner = stack.mint("alice")
    session_id = create_session(stack, owner, channels=["en", "es"])

    async def switch() -> None:
        listener = await open_ws(ws_url(stack, session_id) + "&channel=es")
        await listener.send(json.dumps({"action": "subscribe", "channel": "en"}))
        assert json.loads(await asyncio.wait_for(listener.recv(), 10))["type"] == "subscribed"
        webhook.wait_for(session_id, "Channel Vacated")
        await listener.close()
        webhook.wait_for(session_id, "Session Vacated")

    asyncio.run(switch())
    events = webhook.of_session(session_id)
    told = [(e["detail-type"], e["detail"].get("channel")) for e in events]
    assert told == [
        ("Session Created", None),
        ("Session Occupied", None),
        ("Channel Occupied", "es"),
        ("Channel Occupied", "en"),  # the switch: one record, the new channel first
        ("Channel Vacated", "es"),
        ("Channel Vacated", "en"),  # the leave: the channel, then the session
        ("Session Vacated", None),
    ]
    for event in events:
        assert_envelope_matches(event)
    # The local bus was put the same events, in the same order (what `python -m local events` prints).
    put = [e for e in stack.events() if e["detail"]["sessionId"] == session_id]
    assert [(e["detail-type"], e["detail"].get("channel")) for e in put] == told


def test_a_keynote_sessions_listeners_on_seat_shards_occupy_and_vacate_it_once(stack, webhook: Webhook) -> None:
    """A session above the seat-shard threshold (its seats on SEATS#<id>#<k>, not the session item): listeners
    joining and leaving across shards announce each transition once, through the occupancy item."""
    from session_schema.layout import SEATS_PER_SHARD

    owner = stack.mint("alice")
    session_id = create_session(stack, owner, maxListeners=SEATS_PER_SHARD * 2, channels=["en", "es"])
    url = ws_url(stack, session_id) + "&channel=es"
    given_up = len(stack.stream_poller.failures)

    async def crowd() -> None:
        listeners = await asyncio.gather(*(open_ws(url) for _ in range(3)))  # hashed over the session's shards
        webhook.wait_for(session_id, "Channel Occupied")
        await asyncio.gather(*(listener.close() for listener in listeners))
        webhook.wait_for(session_id, "Session Vacated")

    asyncio.run(crowd())
    events = webhook.of_session(session_id)
    assert [(e["detail-type"], e["detail"].get("channel")) for e in events] == [
        ("Session Created", None),
        ("Session Occupied", None),
        ("Channel Occupied", "es"),
        ("Channel Vacated", "es"),
        ("Session Vacated", None),
    ]
    details = [assert_envelope_matches(e) for e in events]
    assert details[1]["listenerCount"] >= 1 and details[4]["listenerCount"] == 0
    # Every record read, none failed past its retries (the occupancy item's creation is one readable INSERT).
    assert len(stack.stream_poller.failures) == given_up


def test_serve_with_a_webhook_and_events_follow_as_a_user_runs_them(tmp_path: Path, webhook: Webhook) -> None:
    """The flags themselves, as processes: `serve --webhook URL` posts a new session's Created to the URL, and
    `local events --follow` prints it as it is put (then keeps waiting for more)."""
    http_port, ws_port, state = free_port(), free_port(), tmp_path / "state"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "local", "serve", "--http-port", str(http_port), "--ws-port", str(ws_port),
             "--state-dir", str(state), "--sweep-interval", "0", "--webhook", webhook.url],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=cli_env(),
        )  # fmt: skip
    follower = None
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops." not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        follower = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "local", "events", "--follow", "--state-dir", str(state)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=cli_env(), text=True,
        )  # fmt: skip
        token = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "local", "token", "alice", "--http-port", str(http_port), "--state-dir", str(state)],
            cwd=REPO, env=cli_env(), capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        created = requests.post(
            f"http://127.0.0.1:{http_port}/sessions", json={"title": "flags"},
            headers={"Authorization": f"Bearer {token}"}, timeout=10,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        session_id = created.json()["sessionId"]
        (posted,) = webhook.wait_for(session_id, "Session Created")
        assert_envelope_matches(posted)
        assert follower.stdout is not None
        ready, _, _ = select.select([follower.stdout], [], [], 30)
        assert ready, "`local events --follow` printed nothing within 30 s"
        printed = json.loads(follower.stdout.readline())
        assert printed["detail"]["id"] == posted["detail"]["id"]
        assert follower.poll() is None, "--follow keeps waiting for more"
    finally:
        for process in (follower, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
