"""Listeners never miss an event, through the local stack with real sockets and the installable Python client
(clients/python): a socket killed for 5 s, a listener away longer than the stream window, API Gateway's
forced close at the maximum connection age and its idle timeout, events delivered out of order, and a stack
restart with DynamoDB intact (ghost seats make joins 429 SESSION_FULL until the sweep frees them)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from typing import Any

import boto3
import pytest
from live_sessions_client import BackoffOptions, LiveSession, RefusedError, StateChange

from tests.support.local_stack import create_session, running_local_stack
from tests.support.other_dynamodb import OtherDynamoDb

pytestmark = pytest.mark.e2e


class Listener(LiveSession):
    """The client, with a network that can be taken away: while `down_until` is ahead, connecting fails as
    an unreachable network does (the socket itself is severed by the stack)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.states: list[StateChange] = []
        kwargs.setdefault("on_state", self.states.append)
        kwargs.setdefault("backoff", BackoffOptions(initial=0.1, max=1.0))
        super().__init__(*args, **kwargs)
        self.down_until = 0.0
        self.events: list[dict[str, Any]] = []
        self.reset_events: list[dict[str, Any]] = []

    async def _open_once(self):  # type: ignore[no-untyped-def]
        if time.monotonic() < self.down_until:
            raise OSError("network is unreachable")
        return await super()._open_once()

    async def collect(self) -> None:
        async for event in self:
            if event["type"] == "reset":
                self.reset_events.append(event)
            elif "seq" in event:
                self.events.append(event)

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]


async def speak(stack, session_id: str, count: int, rate: float) -> list[int]:
    """Broadcast `count` times at `rate` per second; the seqs the server gave them."""
    seqs = []
    async with LiveSession(stack.urls.ws, session_id, token=stack.mint("alice"), keepalive=None) as speaker:
        for i in range(count):
            sent = await speaker.broadcast({"i": i})
            seqs.append(sent["seq"])
            await asyncio.sleep(1 / rate)
    return seqs


async def settle(listener: Listener, last_seq: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while (listener.last_seq or 0) < last_seq and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def test_a_socket_killed_for_five_seconds_while_the_speaker_broadcasts_misses_nothing() -> None:
    with running_local_stack() as stack:
        session_id = create_session(stack, stack.mint("alice"))

        async def scenario() -> tuple[Listener, list[int]]:
            listener = Listener(stack.urls.ws, session_id)
            await listener.connect()
            reader = asyncio.create_task(listener.collect())
            speaking = asyncio.create_task(speak(stack, session_id, 80, rate=12))
            await asyncio.sleep(1.5)
            listener.down_until = time.monotonic() + 5
            assert stack.sever_connection(listener.connection_id)  # the socket dies without a close
            sent = await speaking
            await settle(listener, sent[-1])
            await listener.close()
            reader.cancel()
            return listener, sent

        listener, sent = asyncio.run(scenario())
    assert listener.reconnects >= 1
    assert listener.seqs() == list(range(1, sent[-1] + 1))  # every seq exactly once, in order
    assert set(sent) <= set(listener.seqs())
    assert listener.reset_events == [] and listener.resets == 0


def test_a_listener_away_longer_than_the_window_is_told_and_gets_the_current_view() -> None:
    with running_local_stack(settings_overrides={"STREAM_WINDOW_SECONDS": "1"}) as stack:
        session_id = create_session(stack, stack.mint("alice"))

        async def scenario() -> tuple[Listener, list[int]]:
            listener = Listener(stack.urls.ws, session_id)
            await listener.connect()
            reader = asyncio.create_task(listener.collect())
            await speak(stack, session_id, 2, rate=20)
            await settle(listener, 2)
            listener.down_until = time.monotonic() + 3
            stack.sever_connection(listener.connection_id)
            sent = await speak(stack, session_id, 3, rate=20)
            await asyncio.sleep(3.5)  # events 3-5 leave the 1 s window before the listener is back
            await settle(listener, sent[-1], timeout=5)
            await listener.close()
            reader.cancel()
            return listener, sent

        listener, sent = asyncio.run(scenario())
    resets = listener.reset_events
    assert resets and resets[0]["session"]["seq"] == sent[-1]  # the current view is the new baseline
    assert resets[0]["reason"] == "notRecovered"
    assert listener.seqs() == [1, 2]  # nothing replayed that the app would take for complete
    assert listener.joined is not None and listener.joined["recovered"] is False


@pytest.mark.parametrize("cause", ["maximum connection age", "idle timeout"])
def test_api_gateways_forced_closes_lose_nothing(cause: str) -> None:
    # 3 s of age: each burst's speaker (a connection of its own, capped as well) has time to speak on a loaded
    # machine, and the listener, connected through all three bursts (6 s or more), is still closed at least once.
    limits = {"max_connection_seconds": 3.0} if cause == "maximum connection age" else {"idle_timeout": 1.0}
    with running_local_stack(**limits) as stack:
        session_id = create_session(stack, stack.mint("alice"))

        async def scenario() -> tuple[Listener, list[int]]:
            # No keepalive and no early renewal: the gateway does close it, and the client must resume.
            listener = Listener(stack.urls.ws, session_id, keepalive=None, renew_after=None)
            await listener.connect()
            reader = asyncio.create_task(listener.collect())
            sent = []
            for _ in range(3):  # bursts with silences longer than the idle timeout between them
                sent += await speak(stack, session_id, 4, rate=8)
                await asyncio.sleep(1.6)
            await settle(listener, sent[-1])
            await listener.close()
            reader.cancel()
            return listener, sent

        listener, sent = asyncio.run(scenario())
    assert listener.reconnects >= 1, cause
    assert listener.seqs() == list(range(1, sent[-1] + 1))


def test_the_clients_keepalive_is_activity_the_gateway_counts() -> None:
    """API Gateway's idle timeout counts data messages, not ping/pong control frames: the client's `ping`
    action keeps a silent session's listener connected past the idle timeout."""
    with running_local_stack(idle_timeout=2.0) as stack:
        session_id = create_session(stack, stack.mint("alice"))

        async def scenario() -> Listener:
            listener = Listener(stack.urls.ws, session_id, keepalive=0.5, renew_after=None)
            await listener.connect()
            reader = asyncio.create_task(listener.collect())
            sent = await speak(stack, session_id, 2, rate=10)
            await asyncio.sleep(4.5)  # silence for more than twice the idle timeout
            sent += await speak(stack, session_id, 2, rate=10)
            await settle(listener, sent[-1])
            await listener.close()
            reader.cancel()
            return listener

        listener = asyncio.run(scenario())
    assert listener.reconnects == 0 and listener.seqs() == [1, 2, 3, 4]


def test_control_frame_pings_are_not_activity_for_the_idle_timeout() -> None:
    """As on API Gateway: only data messages keep a connection; a client's WebSocket pings do not."""
    from websockets.asyncio.client import connect

    with running_local_stack(idle_timeout=1.0) as stack:
        session_id = create_session(stack, stack.mint("alice"))

        async def lifetime() -> float:
            opened = time.monotonic()
            async with connect(f"{stack.urls.ws}/?sessionId={session_id}", proxy=None, ping_interval=0.2) as ws:
                await ws.wait_closed()
                assert ws.close_code == 1001
            return time.monotonic() - opened

        lasted = asyncio.run(lifetime())
    assert 0.9 < lasted < 5, lasted


def test_events_delivered_out_of_order_come_out_in_order() -> None:
    """Two overlapping broadcast invocations can post seq n+1 before n: the client holds n+1 for n."""
    with running_local_stack() as stack:
        session_id = create_session(stack, stack.mint("alice"))
        management = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=stack.urls.callback,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

        async def scenario() -> Listener:
            listener = Listener(stack.urls.ws, session_id)
            await listener.connect()
            reader = asyncio.create_task(listener.collect())
            for seq in (2, 3, 1):  # as two invocations racing each other would deliver them
                frame = f'{{"type":"broadcast","data":{seq},"ts":1,"seq":{seq}}}'.encode()
                await asyncio.to_thread(management.post_to_connection, ConnectionId=listener.connection_id, Data=frame)
            await settle(listener, 3, timeout=5)
            await listener.close()
            reader.cancel()
            return listener

        listener = asyncio.run(scenario())
    assert [e["data"] for e in listener.events] == [1, 2, 3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_twenty_listeners_come_back_after_a_restart_with_dynamodb_intact() -> None:
    names = {"table_name": f"stream-{uuid.uuid4().hex[:8]}", "bucket_name": f"stream-{uuid.uuid4().hex[:8]}"}
    ports = {"http_port": _free_port(), "ws_port": _free_port()}
    overrides = {"GHOST_GRACE_SECONDS": "1"}
    count = 20
    # The stack's own scale: a ghost seat frees within seconds here, not the minutes a full session's default
    # schedule (10 s toward 5 minutes) is made for.
    backoff = BackoffOptions(initial=0.1, max=2.0)
    with OtherDynamoDb() as table:
        options = {"dynamodb_endpoint": table.url, "settings_overrides": overrides, **names, **ports}

        async def scenario() -> tuple[list[Listener], list[int], float]:
            with running_local_stack(**options) as first:
                session_id = create_session(first, first.mint("alice"), maxListeners=count)
                listeners = [
                    Listener(first.urls.ws, session_id, backoff=backoff, full_backoff=backoff) for _ in range(count)
                ]
                for listener in listeners:
                    await listener.connect()
                readers = [asyncio.create_task(listener.collect()) for listener in listeners]
                before = await speak(first, session_id, 3, rate=20)
                for connection_id in first.live_connections():
                    first.sever_connection(connection_id)  # a crash: no $disconnect, every seat a ghost
            restarted_at = time.monotonic()
            with running_local_stack(sweep_interval=1.0, **options) as second:
                after = await speak(second, session_id, 5, rate=10)
                for listener in listeners:
                    await settle(listener, after[-1], timeout=30)
                caught_up = time.monotonic() - restarted_at
                for listener in listeners:
                    await listener.close()
            for reader in readers:
                reader.cancel()
            return listeners, before + after, caught_up

        listeners, sent, caught_up = asyncio.run(scenario())
    print(f"{len(listeners)} listeners back and caught up {caught_up:.1f} s after the restart")
    for listener in listeners:
        assert listener.seqs() == list(range(1, sent[-1] + 1)), listener.states[-5:]
    refused_full = sum(
        isinstance(change.error, RefusedError) and change.error.code == "SESSION_FULL"
        for listener in listeners
        for change in listener.states
    )
    print(f"joins refused as full (ghost seats) and retried: {refused_full}")
    assert caught_up < 30
