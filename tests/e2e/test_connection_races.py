"""Connections through the local stack in the races of issue 24 (real sockets, the real handlers):

- a post that reaches a connection while its `$connect` is still running is answered 410 by the gateway (as by
  API Gateway); that connection is young, so it stays registered and is served once its handshake completes
  (a deaf listener otherwise: open socket, no record);
- a speaker reconnecting while listeners churn: every connection that got `joined` is served, no action answers
  CONNECTION_NOT_FOUND, and the count ends equal to the open listener sockets;
- a burst of connects whose every registration commits but loses its first answer (botocore retries with the
  same ClientRequestToken): no handshake answers 500 and no seat is left a ghost;
- a client whose `join` invocations fail (a throttle in a join storm: API Gateway's integration-error frame) joins
  on the connection `$connect` registered, taking one seat, not a second one on a reconnect.

`$connect` runs tests/support/lambda_faults.py's switches: a handshake can be held after its registration,
which widens (or, with a release file, pins) the window in which posts to it are answered 410; a connection's
first joins can fail as a throttled invocation does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from live_sessions_client import BackoffOptions, LiveSession
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local.lambda_service.lambda_pools import HandlerSpec
from local.stack import LocalStack
from tests.support.lambda_faults import join_fault_plan
from tests.support.local_stack import create_session, http, running_local_stack, ws_url

pytestmark = pytest.mark.e2e

FAULTS = HandlerSpec(connection="tests.support.lambda_faults.connection", sweep=None)
WAIT = 20.0  # seconds: the bound on every wait for something the stack must do (a loaded machine is slow)


@pytest.fixture(scope="module")
def join_faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The directory lambda_faults.py counts each connection's failing joins in (the workers inherit this env)."""
    folder = tmp_path_factory.mktemp("join-faults")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_JOIN_FAULTS", str(folder))
        yield folder


@pytest.fixture(scope="module")
def stack(join_faults: Path) -> Iterator[LocalStack]:
    with running_local_stack(handlers=FAULTS) as local:
        yield local


def _open(url: str, **switches: str) -> ClientConnection:
    target = f"{url}&{urlencode(switches)}" if switches else url
    return connect(target, proxy=None, compression=None, open_timeout=WAIT, close_timeout=5, legacy=True)


def _next(ws: ClientConnection, accept: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """The next message `accept` takes (the others are skipped); AssertionError naming `what` past WAIT."""
    deadline = time.monotonic() + WAIT
    while (left := deadline - time.monotonic()) > 0:
        try:
            message: dict[str, Any] = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if accept(message):
            return message
    raise AssertionError(f"no {what} within {WAIT} s")


def _ask(ws: ClientConnection, action: str, answer: str, **fields: Any) -> dict[str, Any]:
    """Send an action; its answer, which must be `answer` (an error answer fails, naming its code)."""
    ws.send(json.dumps({"action": action, **fields}))
    reply = _next(ws, lambda m: m.get("type") in (answer, "error"), f"answer to {action}")
    assert reply["type"] == answer, reply
    return reply


def _join_seeing(ws: ClientConnection, kinds: set[str]) -> dict[str, dict[str, Any]]:
    """Join, and read until `joined` and one message of each of `kinds` (in any order) have come."""
    ws.send(json.dumps({"action": "join"}))
    seen: dict[str, dict[str, Any]] = {}
    while not {"joined", *kinds} <= seen.keys():
        message = _next(ws, lambda m: m.get("type") in {"joined", "error", *kinds} - seen.keys(), "/".join(kinds))
        assert message["type"] != "error", message
        seen[message["type"]] = message
    return seen


def _listener_count(stack: LocalStack, session_id: str) -> int:
    count: int = http(stack, "GET", f"/sessions/{session_id}").json()["listenerCount"]
    return count


def _wait_for_count(stack: LocalStack, session_id: str, expected: int) -> int:
    """The count once it is `expected`, or the last one read past WAIT (leaves run after their close)."""
    deadline = time.monotonic() + WAIT
    while (count := _listener_count(stack, session_id)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def test_a_post_during_the_handshake_leaves_the_young_connection_registered_and_served(
    stack: LocalStack, tmp_path: Path
) -> None:
    owner = stack.mint("alice")
    session_id = create_session(stack, owner)
    speaker = _open(ws_url(stack, session_id, owner))
    _ask(speaker, "join", "joined")
    release = tmp_path / "release"
    with ThreadPoolExecutor(1) as pool:
        handshake = pool.submit(_open, ws_url(stack, session_id), testConnectHold=str(release))
        try:
            # Registered by its $connect, which has not returned: the gateway answers posts to it 410.
            assert _wait_for_count(stack, session_id, 1) == 1
            during = _ask(speaker, "broadcast", "broadcastSent", data="during the handshake")
        finally:
            release.touch()
        listener = handshake.result(timeout=WAIT)
    assert during["delivered"] == 0  # the post did reach the connection in its handshake: 410
    assert _listener_count(stack, session_id) == 1  # ... and the 410 did not unregister it
    joined = _ask(listener, "join", "joined")
    after = _ask(speaker, "broadcast", "broadcastSent", data="after the join")
    assert after["delivered"] == 1
    received = _next(listener, lambda m: m.get("type") == "broadcast", "broadcast")
    assert received["data"] == "after the join" and received["seq"] > joined["session"]["seq"]
    for ws in (listener, speaker):
        ws.close()
    assert _wait_for_count(stack, session_id, 0) == 0


def test_a_join_whose_invocations_failed_is_sent_again_on_the_connection_connect_registered(
    stack: LocalStack, join_faults: Path
) -> None:
    owner = stack.mint("alice")
    session_id = create_session(stack, owner)
    assert stack.urls is not None
    failing = f"{stack.urls.ws}?testFailJoins=2"  # the client appends sessionId, v, ...

    async def joined_client() -> tuple[str | None, int, int]:
        backoff = BackoffOptions(initial=0.05, max=0.2)
        async with asyncio.timeout(WAIT), LiveSession(failing, session_id, keepalive=None, backoff=backoff) as live:
            count = await asyncio.to_thread(_listener_count, stack, session_id)
            return live.connection_id, live.reconnects, count

    connection_id, reconnects, count = asyncio.run(joined_client())
    assert connection_id is not None
    plan = join_fault_plan(join_faults, connection_id)
    assert list(join_faults.iterdir()) == [plan]  # one $connect: the one it joined on
    assert plan.read_text() == "0"  # both failing joins were sent (and failed)
    assert reconnects == 0
    assert count == 1
    assert _wait_for_count(stack, session_id, 0) == 0


SPEAKER_RECONNECTS = 50
CHURNERS = 8
HOLD = "0.05"  # seconds each handshake is held after its registration: posts to it meanwhile are answered 410


def test_a_speaker_reconnecting_while_listeners_churn_serves_every_joined_connection(stack: LocalStack) -> None:
    owner = stack.mint("alice")
    session_id = create_session(stack, owner)
    listeners = ws_url(stack, session_id)
    stop = threading.Event()
    problems: list[str] = []
    served: list[str] = []

    def churn() -> ClientConnection | None:
        """Join, wait for a broadcast, leave; again until the speaker is done. The last connection stays open."""
        ws: ClientConnection | None = None
        while not stop.is_set():
            if ws is not None:
                ws.close()
            try:
                ws = _open(listeners, testConnectSleep=HOLD)
            except InvalidStatus as refused:
                problems.append(f"listener refused: {refused}")
                ws = None
                continue
            try:
                joined = _ask(ws, "join", "joined")
                _next(ws, lambda m: m.get("type") == "broadcast", "broadcast after the join")
                served.append(joined["connectionId"])
            except AssertionError as problem:
                problems.append(f"listener: {problem}")
        return ws

    def speak(ws: ClientConnection, i: int) -> None:
        _ask(ws, "broadcast", "broadcastSent", data={"i": i})

    with ThreadPoolExecutor(CHURNERS) as pool:
        churners = [pool.submit(churn) for _ in range(CHURNERS)]
        try:
            for i in range(SPEAKER_RECONNECTS):
                speaker = _open(ws_url(stack, session_id, owner), testConnectSleep=HOLD)
                try:
                    # Told its count after its handshake (in `joined`), and its actions find it registered.
                    assert "listenerCount" in _join_seeing(speaker, set())["joined"]["session"]
                    speak(speaker, i)
                except AssertionError as problem:
                    problems.append(f"speaker {i}: {problem}")
                finally:
                    speaker.close()
        finally:
            stop.set()
        # The last speaker broadcasts until every churner has had the broadcast its last join waits for.
        speaker = _open(ws_url(stack, session_id, owner))
        _ask(speaker, "join", "joined")
        i = SPEAKER_RECONNECTS
        while not all(c.done() for c in churners):
            speak(speaker, i := i + 1)
            time.sleep(0.1)
        open_listeners = [ws for c in churners if (ws := c.result()) is not None]
    try:
        assert problems == []
        assert len(served) >= CHURNERS  # every churner was served at least once
        assert _wait_for_count(stack, session_id, len(open_listeners)) == len(open_listeners)
        speak(speaker, i + 1)  # and the ones left open are still served
        for ws in open_listeners:
            _next(ws, lambda m: m.get("type") == "broadcast" and m["data"] == {"i": i + 1}, "the last broadcast")
    finally:
        for ws in [*open_listeners, speaker]:
            ws.close()
    print(f"{len(served)} listener joins served during {SPEAKER_RECONNECTS} speaker reconnects")


CONNECTS = 500
CONCURRENCY = 16
CLOSED_EVERY = 4


@pytest.fixture
def lost_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file tests/support/moto_faults.py lists each lost answer in (the moto process inherits this env)."""
    log = tmp_path / "lost-answers"
    log.touch()
    monkeypatch.setenv("LOST_ANSWERS_FILE", str(log))
    return log


def test_connects_whose_committed_registration_lost_its_answer_leave_no_ghost_seat(lost_answers: Path) -> None:
    patch = "tests.support.moto_faults.lose_first_answer_of_every_commit"
    with running_local_stack(moto_patches=(patch,)) as stack:
        session_id = create_session(stack, stack.mint("alice"), maxListeners=CONNECTS)
        url = ws_url(stack, session_id)

        def connect_once(i: int) -> tuple[int, ClientConnection | None]:
            """Every CLOSED_EVERY-th connection closes at once (its leave is a transaction too); the rest stay open."""
            try:
                ws = _open(url)
            except InvalidStatus as refused:
                return refused.response.status_code, None
            if i % CLOSED_EVERY == 0:
                ws.close()
                return 101, None
            return 101, ws

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            outcomes = list(pool.map(connect_once, range(CONNECTS)))
        open_sockets = [ws for _, ws in outcomes if ws is not None]
        try:
            refusals = [status for status, _ in outcomes if status != 101]
            count = _wait_for_count(stack, session_id, len(open_sockets))
        finally:
            for connection_id in stack.live_connections():
                stack.sever_connection(connection_id)  # no $disconnect: the stack stops without running every leave
            for ws in open_sockets:
                ws.close()
        lost = len(lost_answers.read_text().splitlines())
    assert refusals == []  # no handshake answered 500 (nor anything else)
    assert lost >= CONNECTS  # every registration (and every leave) lost its first answer
    assert count == len(open_sockets) == CONNECTS - CONNECTS // CLOSED_EVERY
