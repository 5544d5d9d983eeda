"""The Python client (clients/python, live_sessions_client) against the local gateway with a fake
connection handler: join, requests, refusals, and reconnect-with-backoff that re-joins."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from typing import Any

import boto3
import pytest
from live_sessions_client import ActionError, Refused, SessionClient, backoff_delays, connect, session_url

from local.lambda_service.lambda_pools import HandlerSpec
from tests.support.local_stack import running_local_stack


def test_backoff_is_exponential_capped_and_jittered() -> None:
    delays = list(itertools.islice(backoff_delays(initial=0.5, cap=8.0), 12))
    steps = [min(8.0, 0.5 * 2**n) for n in range(12)]
    assert all(step / 2 <= d <= step for d, step in zip(delays, steps, strict=True))
    assert max(delays) <= 8.0
    assert len({round(d, 6) for d in delays}) > 6  # jitter: not a fixed sequence


def test_session_url_encodes_the_query() -> None:
    assert session_url("ws://127.0.0.1:3001", "quiet-river-482", "a.b+c") == (
        "ws://127.0.0.1:3001/?sessionId=quiet-river-482&token=a.b%2Bc"
    )
    assert session_url("ws://h:1/local?x=1", "s") == "ws://h:1/local?x=1&sessionId=s"


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
            reply = {"type": "joined", "role": "listener", "connectionId": ctx["connectionId"], "session": {}}
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
        async with await connect(urls.ws, "quiet-river-482") as client:
            assert client.role == "listener" and client.connection_id
            assert (await client.ping())["type"] == "pong"
            assert await client.history() == [{"text": "hi"}]
            with pytest.raises(ActionError) as refused:
                await client.request("broadcast", expect="broadcastSent", data=1)
            assert refused.value.code == "FORBIDDEN"

    asyncio.run(scenario())


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_transient_refusal_is_retried_with_backoff_until_it_passes(client_stack, status) -> None:
    _, urls, fake = client_stack
    session_id = f"crowded-room-{status}"
    fake.refuse_first[session_id] = (status, 3)
    states: list[str] = []

    async def scenario() -> None:
        client = SessionClient(
            urls.ws, session_id, backoff_initial=0.02, backoff_cap=0.1, on_state=lambda s, i: states.append(s)
        )
        async with await client.open():
            assert client.connection_id
    asyncio.run(scenario())
    assert states.count("reconnecting") == 3 and fake.refuse_first[session_id] == (status, 0)


def test_refused_handshake_is_not_retried(client_stack) -> None:
    _, urls, _ = client_stack

    async def scenario() -> None:
        with pytest.raises(Refused) as refused:
            await connect(urls.ws, "missing-session-1")
        assert refused.value.status == 404 and refused.value.code == "SESSION_NOT_FOUND"

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
    states: list[str] = []

    async def scenario() -> None:
        client = SessionClient(
            urls.ws, "quiet-river-482", backoff_initial=0.05, backoff_cap=0.2, on_state=lambda s, i: states.append(s)
        )
        await client.open()
        first_id = client.connection_id
        rejoined = client.wait_for(lambda m: m.get("type") == "joined")
        await asyncio.to_thread(management.delete_connection, ConnectionId=first_id)  # the server drops it
        message = await asyncio.wait_for(rejoined, 10)
        assert message["connectionId"] != first_id
        await asyncio.sleep(0.05)
        assert client.reconnects == 1 and client.connection_id == message["connectionId"]
        assert (await client.ping())["type"] == "pong"  # usable again
        await asyncio.to_thread(management.post_to_connection, ConnectionId=client.connection_id, Data=b'{"type":"x"}')
        assert (await client.next_message())["type"] == "x"
        await client.close()

    asyncio.run(scenario())
    assert "reconnecting" in states and "reconnected" in states
    assert len(fake.joins) >= 2
