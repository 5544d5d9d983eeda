"""A WebSocket test client that drives `connection_handler.app.handler` with real API Gateway events."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from session_schema.models import Session
from tests.ws_events import connect_event, disconnect_event, message_event, new_connection_id


@dataclass
class Handshake:
    connection_id: str
    status: int
    error: dict[str, Any] | None


@dataclass
class WsClient:
    runtime: Any
    management: Any
    issuer: Any
    calls: Counter = field(default_factory=Counter)

    def handler(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        from connection_handler.app import handler

        from tests.http_events import FakeLambdaContext

        return handler(event, FakeLambdaContext(function_name="live-sessions-ws"))

    def connect(self, session_id: str | None, *, user: str | None = None, token: str | None = None, **query: str) -> Handshake:
        connection_id = new_connection_id()
        params = dict(query)
        if session_id is not None:
            params["sessionId"] = session_id
        if user is not None:
            params["token"] = self.issuer.mint(user)
        if token is not None:
            params["token"] = token
        result = self.handler(connect_event(connection_id, params or None), None)
        body = json.loads(result["body"])["error"] if "body" in result else None
        return Handshake(connection_id, result["statusCode"], body)

    def connected(self, session_id: str, *, user: str | None = None) -> str:
        handshake = self.connect(session_id, user=user)
        assert handshake.status == 200, handshake.error
        return handshake.connection_id

    def send(self, connection_id: str, body: Any, route_key: str | None = None) -> dict[str, Any]:
        result = self.handler(message_event(connection_id, body, route_key), None)
        assert result["statusCode"] == 200
        return json.loads(result["body"])

    def act(self, connection_id: str, action: str, **fields: Any) -> dict[str, Any]:
        return self.send(connection_id, {"action": action, **fields})

    def disconnect(self, connection_id: str) -> dict[str, Any]:
        return self.handler(disconnect_event(connection_id), None)

    def received(self, connection_id: str, type_: str | None = None) -> list[dict[str, Any]]:
        sent = self.management.sent.get(connection_id, [])
        return [m for m in sent if type_ is None or m.get("type") == type_]

    def session(self, session_id: str) -> Session:
        return self.runtime.store.get_session(session_id, consistent=True)

    def create_session(self, owner: str = "owner-1", max_listeners: int = 100, title: str = "Talk") -> Session:
        session, _ = self.runtime.store.create_session(
            owner_id=owner, title=title, source_language="en", max_listeners=max_listeners
        )
        return session


@pytest.fixture
def ws(runtime, management, issuer) -> WsClient:
    return WsClient(runtime, management, issuer)


@dataclass
class Live:
    """A session with its owner connected as speaker."""

    session_id: str
    owner: str
    speaker: str


@pytest.fixture
def live(ws) -> Live:
    session = ws.create_session(owner="owner-1", max_listeners=5)
    speaker = ws.connected(session.sessionId, user="owner-1")
    return Live(session.sessionId, "owner-1", speaker)


@pytest.fixture
def log_lines():
    """The structured log lines (as dicts) the handlers write during the test."""
    import io

    from session_runtime.observability import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(stream)

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]

    yield read
    handler.setStream(previous)
