"""Two rules of clients/PROTOCOL_NOTES.md the scripted table cannot express, against a small real server:

- the renewal ahead of API Gateway's 2-hour cap opens and joins the next connection with a fresh token, and
  closes the old one only once the actions in flight on it are answered (none fails for the swap); a renewal's
  join answered with API Gateway's integration-error frame is sent again on the renewal's connection;
- a full session's retries start from 10 s and grow toward 5 minutes by default (`full_backoff`), other
  refusals' from half a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from live_sessions_client import BackoffOptions, ClosedError, LiveSession, StateChange
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

# API Gateway's frame for a route whose invocation was throttled or failed.
INTEGRATION_ERROR = {"message": "Internal server error", "connectionId": "c2", "requestId": "r"}
SESSION = {"sessionId": "quiet-river-482", "status": "active", "seq": 0, "epoch": "e1", "listenerCount": 0}


@dataclass
class RenewingServer:
    """Joins every connection; answers a broadcast on the first connection only once the second one has been
    pinged (the app's action after the renewal), so a client that closes the first connection as soon as the
    second has joined loses that answer."""

    tokens: list[str | None] = field(default_factory=list)
    second_joined: asyncio.Event = field(default_factory=asyncio.Event)
    second_pinged: asyncio.Event = field(default_factory=asyncio.Event)
    first_closed: asyncio.Event = field(default_factory=asyncio.Event)
    answered_before_close: bool = False

    def process_request(self, connection: ServerConnection, request: Request) -> None:
        self.tokens.append(dict(parse_qsl(urlsplit(request.path).query)).get("token"))

    async def handler(self, ws: ServerConnection) -> None:
        number = len(self.tokens)
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                await self._answer(ws, number, json.loads(raw))
        if number == 1:
            self.first_closed.set()

    async def _answer(self, ws: ServerConnection, number: int, action: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"type": "pong", "ts": 1}
        if action["action"] == "join":
            joined = {"type": "joined", "role": "speaker", "connectionId": f"c{number}", "session": SESSION}
            answer = {**joined, "recovered": "sinceSeq" in action}
        elif action["action"] == "broadcast":
            await self.second_pinged.wait()
            answer = {"type": "broadcastSent", "seq": 1, "delivered": 0}
        await ws.send(json.dumps({**answer, "id": action["id"]}))
        self.answered_before_close |= action["action"] == "broadcast"
        if number == 2:
            (self.second_joined if action["action"] == "join" else self.second_pinged).set()


def test_the_renewal_closes_the_old_connection_once_its_actions_are_answered() -> None:
    server = RenewingServer()
    fresh = iter(["token-1", "token-2"])
    states: list[StateChange] = []

    async def scenario() -> dict[str, object]:
        async with serve(server.handler, "127.0.0.1", 0, process_request=server.process_request) as running:
            port = running.sockets[0].getsockname()[1]
            live = LiveSession(
                f"ws://127.0.0.1:{port}",
                SESSION["sessionId"],
                token=lambda: next(fresh),
                keepalive=None,
                renew_after=0.2,
                on_state=states.append,
            )
            await live.connect()
            broadcast = asyncio.ensure_future(live.broadcast({"slide": 1}))  # in flight on the first connection
            await asyncio.wait_for(server.second_joined.wait(), 10)
            await asyncio.wait_for(live.ping(), 10)  # on the renewal's connection
            sent = await asyncio.wait_for(broadcast, 10)
            await asyncio.wait_for(server.first_closed.wait(), 10)
            renewals = live.renewals
            await live.close()
            return {"sent": sent, "renewals": renewals}

    outcome = asyncio.run(scenario())
    assert outcome["renewals"] == 1
    assert isinstance(outcome["sent"], dict) and outcome["sent"]["seq"] == 1
    assert server.answered_before_close
    assert server.tokens[:2] == ["token-1", "token-2"]  # the renewal's handshake asked the provider again
    assert "reconnecting" not in [change.state for change in states]


@dataclass
class ThrottledRenewalServer:
    """Joins the first connection; answers the second one's first join with API Gateway's integration-error frame
    (its invocation throttled), and joins it the second time; records how many handshakes it had seen by then."""

    handshakes: int = 0
    joins: list[dict[str, Any]] = field(default_factory=list)  # the second connection's
    handshakes_when_joined: int | None = None
    second_joined: asyncio.Event = field(default_factory=asyncio.Event)

    def process_request(self, connection: ServerConnection, request: Request) -> None:
        self.handshakes += 1

    async def handler(self, ws: ServerConnection) -> None:
        number = self.handshakes
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                action = json.loads(raw)
                if number == 2:
                    self.joins.append(action)
                if number == 2 and len(self.joins) == 1:
                    await ws.send(json.dumps(INTEGRATION_ERROR))
                    continue
                joined = {"type": "joined", "role": "listener", "connectionId": f"c{number}", "session": SESSION}
                await ws.send(json.dumps({**joined, "recovered": "sinceSeq" in action, "id": action["id"]}))
                if number == 2:
                    self.handshakes_when_joined = self.handshakes
                    self.second_joined.set()


def test_a_renewals_join_answered_with_the_integration_error_is_sent_again_on_the_renewals_connection() -> None:
    server = ThrottledRenewalServer()
    states: list[StateChange] = []

    async def scenario() -> None:
        async with serve(server.handler, "127.0.0.1", 0, process_request=server.process_request) as running:
            port = running.sockets[0].getsockname()[1]
            live = LiveSession(
                f"ws://127.0.0.1:{port}",
                SESSION["sessionId"],
                keepalive=None,
                renew_after=0.2,
                backoff=BackoffOptions(initial=0.01, max=0.05),
                on_state=states.append,
            )
            await live.connect()
            await asyncio.wait_for(server.second_joined.wait(), 10)
            await live.close()

    asyncio.run(scenario())
    assert server.handshakes_when_joined == 2  # no third connection for the failed join
    assert [join["action"] for join in server.joins[:2]] == ["join", "join"]
    assert server.joins[0].keys() - {"id"} == server.joins[1].keys() - {"id"}
    assert [change.error for change in states if change.error is not None] == []


@asynccontextmanager
async def refusing(code: str) -> AsyncIterator[str]:
    """A server that refuses every handshake with 429 `code`, no Retry-After; its URL."""

    def refuse(connection: ServerConnection, request: Request) -> Response:
        body = json.dumps({"error": {"code": code, "message": "scripted", "requestId": "r"}})
        return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, body)

    async with serve(lambda ws: ws.close(), "127.0.0.1", 0, process_request=refuse) as running:
        yield f"ws://127.0.0.1:{running.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize(("code", "first_step"), [("SESSION_FULL", 10.0), ("RATE_LIMITED", 0.5)])
def test_a_full_session_is_retried_on_a_schedule_of_minutes(code: str, first_step: float) -> None:
    async def first_retry() -> StateChange:
        retrying: asyncio.Future[StateChange] = asyncio.get_running_loop().create_future()

        def on_state(change: StateChange) -> None:
            if change.retry_in is not None and not retrying.done():
                retrying.set_result(change)

        async with refusing(code) as url:
            # random() == 0: the equal jitter's lowest draw, half the step.
            live = LiveSession(url, SESSION["sessionId"], on_state=on_state, random=lambda: 0.0)
            connecting = asyncio.ensure_future(live.connect())
            change = await asyncio.wait_for(retrying, 10)
            await live.close()
            with pytest.raises(ClosedError):  # closed while waiting
                await connecting
            return change

    change = asyncio.run(first_retry())
    assert change.error is not None and getattr(change.error, "code", None) == code
    assert change.retry_in == first_step / 2
