"""The Python client (clients/python, live_sessions_client) against the local gateway with a fake
connection handler: join, requests, refusals, reconnect-with-backoff that re-joins, and the 0.1 names that
still work (with a DeprecationWarning)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import boto3
import pytest
from live_sessions_client import (
    ActionError,
    BackoffOptions,
    LiveSession,
    RefusedError,
    StateChange,
    backoff_delay,
    connect_url,
)

from local.lambda_service.lambda_pools import HandlerSpec
from tests.support.local_stack import running_local_stack


def test_backoff_is_exponential_capped_and_jittered() -> None:
    options = BackoffOptions(initial=0.5, max=8.0)
    steps = [min(8.0, 0.5 * 2**n) for n in range(12)]
    assert [backoff_delay(n, options, lambda: 0.0) for n in range(12)] == [step / 2 for step in steps]
    assert [backoff_delay(n, options, lambda: 1.0) for n in range(12)] == steps


def test_connect_url_encodes_the_query_and_declares_the_protocol_version() -> None:
    assert connect_url("ws://127.0.0.1:3001", "quiet-river-482", "a.b+c") == (
        "ws://127.0.0.1:3001/?sessionId=quiet-river-482&token=a.b%2Bc&v=3"
    )
    assert connect_url("ws://h:1/local?x=1", "s") == "ws://h:1/local?x=1&sessionId=s&v=3"
    assert connect_url("ws://h:1", "s", name="Ada L & co") == "ws://h:1/?sessionId=s&name=Ada+L+%26+co&v=3"


class FakeSessions:
    def __init__(self) -> None:
        self.joins: list[str] = []
        self.lock = threading.Lock()
        self.refuse_first: dict[str, tuple[int, int]] = {}

    def handler(self, event: dict[str, Any], context: Any) -> Any:
        ctx = event["requestContext"]
        if ctx["eventType"] == "CONNECT":
            session_id = (event.get("queryStringParameters") or {}).get("sessionId")
            if session_id == "missing-session-1":
                return {
                    "statusCode": 404,
                    "body": json.dumps({"error": {"code": "SESSION_NOT_FOUND", "message": "nope"}}),
                }
            if session_id in self.refuse_first:  # transient: full, throttled, or a failing service
                with self.lock:
                    status, left = self.refuse_first[session_id]
                    if left:
                        self.refuse_first[session_id] = (status, left - 1)
                        return {"statusCode": status, "body": json.dumps({"error": {"code": "X", "message": "x"}})}
            return {"statusCode": 200}
        if ctx["eventType"] == "DISCONNECT":
            return {"statusCode": 200}
        action = ctx["routeKey"]
        if action == "join":
            with self.lock:
                self.joins.append(ctx["connectionId"])
            session = {"seq": 0, "epoch": "e1"}
            reply = {"type": "joined", "role": "listener", "connectionId": ctx["connectionId"], "session": session}
            if "sinceSeq" in json.loads(event["body"]):
                reply["recovered"] = True
        elif action == "ping":
            reply = {"type": "pong", "ts": 1}
        elif action == "history":
            reply = {"type": "history", "items": [{"text": "hi"}]}
        else:
            reply = {"type": "error", "code": "FORBIDDEN", "message": "only the speaker may " + action}
        frame = json.loads(event["body"])
        if isinstance(frame, dict) and "id" in frame:
            reply["id"] = frame["id"]  # the API's client-id echo
        return {"statusCode": 200, "body": json.dumps(reply)}


@pytest.fixture(scope="module")
def client_stack():
    fake = FakeSessions()
    handlers = HandlerSpec(http=lambda e, c: {"statusCode": 200}, connection=fake.handler, sweep=None)
    with running_local_stack(handlers=handlers) as stack:
        yield stack, stack.urls, fake


def test_join_requests_and_errors(client_stack) -> None:
    _, urls, _ = client_stack

    async def scenario() -> None:
        async with LiveSession(urls.ws, "quiet-river-482") as live:
            assert live.role == "listener" and live.connection_id and live.state == "connected"
            assert (await live.ping())["type"] == "pong"
            assert (await live.history())["items"] == [{"text": "hi"}]
            with pytest.raises(ActionError) as refused:
                await live.broadcast(1)
            assert refused.value.code == "FORBIDDEN" and refused.value.action == "broadcast"

    asyncio.run(scenario())


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_transient_refusal_is_retried_with_backoff_until_it_passes(client_stack, status) -> None:
    _, urls, fake = client_stack
    session_id = f"crowded-room-{status}"
    fake.refuse_first[session_id] = (status, 3)
    states: list[StateChange] = []

    async def scenario() -> None:
        backoff = BackoffOptions(initial=0.02, max=0.1)
        async with LiveSession(urls.ws, session_id, backoff=backoff, on_state=states.append) as live:
            assert live.connection_id

    asyncio.run(scenario())
    retries = [change for change in states if change.retry_in is not None]
    assert [change.attempt for change in retries] == [1, 2, 3] and fake.refuse_first[session_id] == (status, 0)
    assert all(isinstance(change.error, RefusedError) and change.error.status == status for change in retries)


def test_refused_handshake_is_not_retried(client_stack) -> None:
    _, urls, _ = client_stack

    async def scenario() -> None:
        live = LiveSession(urls.ws, "missing-session-1")
        with pytest.raises(RefusedError) as refused:
            await live.connect()
        assert refused.value.status == 404 and refused.value.code == "SESSION_NOT_FOUND"
        assert not refused.value.retryable and live.state == "closed"
        with pytest.raises(RefusedError):  # the app's `async for` hears of it too
            async for _ in live:
                pass

    asyncio.run(scenario())


def test_a_dropped_connection_is_reopened_and_rejoined(client_stack) -> None:
    _, urls, fake = client_stack
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=urls.callback,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    states: list[StateChange] = []

    async def scenario() -> None:
        rejoined = asyncio.Event()

        def on_state(change: StateChange) -> None:
            states.append(change)
            if change.state == "connected" and change.previous == "reconnecting":
                rejoined.set()

        live = LiveSession(urls.ws, "quiet-river-482", backoff=BackoffOptions(0.05, 0.2), on_state=on_state)
        await live.connect()
        first_id = live.connection_id
        await asyncio.to_thread(management.delete_connection, ConnectionId=first_id)  # the server drops it
        await asyncio.wait_for(rejoined.wait(), 10)
        assert (await live.ping())["type"] == "pong"  # usable again
        assert live.reconnects == 1 and live.connection_id != first_id
        await asyncio.to_thread(management.post_to_connection, ConnectionId=live.connection_id, Data=b'{"type":"x"}')
        events = aiter(live)
        assert (await anext(events))["type"] == "x"
        await live.close()

    asyncio.run(scenario())
    assert [change.state for change in states].count("connected") == 2 and "reconnecting" in {c.state for c in states}
    assert len(fake.joins) >= 2


def test_the_0_1_names_still_work_and_warn(client_stack) -> None:
    """`local listen`/`speak` and apps written for 0.1 keep working for one version."""
    _, urls, _ = client_stack
    import live_sessions_client as client

    async def scenario() -> None:
        with pytest.warns(DeprecationWarning, match="LiveSession"):
            old = client.SessionClient(urls.ws, "quiet-river-482", None, on_state=lambda state, info: None)
        with pytest.warns(DeprecationWarning, match="RefusedError"):
            assert client.Refused is RefusedError
        async with await old.open():
            await old.broadcast(1)  # 0.1: only sends; the answer (here an error) arrives in the iteration
            assert (await old.next_message())["code"] == "FORBIDDEN"
            with pytest.warns(DeprecationWarning, match="pause"):
                await old.control("pause")
            assert (await old.next_message())["code"] == "FORBIDDEN"
            assert await old.history() == [{"text": "hi"}]
        with pytest.warns(DeprecationWarning, match="StreamOrderer"):
            order = client.StreamOrder()
        assert order.baseline(1) == [] and order.accept({"type": "broadcast", "seq": 3}) == []
        assert [e["seq"] for e in order.accept({"type": "broadcast", "seq": 2})] == [2, 3]

    asyncio.run(scenario())
