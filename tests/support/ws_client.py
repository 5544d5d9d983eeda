"""A WebSocket test client that drives `connection_handler.app.handler` with real API Gateway events
(CONNECT, MESSAGE, DISCONNECT) against the `runtime` fixture, reading what the captured management API
sent. Safe to call from many threads at once."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from session_schema.models import Session

from tests.support.ws_events import connect_event, disconnect_event, message_event, new_connection_id


@dataclass
class Handshake:
    connection_id: str
    status: int
    error: dict[str, Any] | None

    @property
    def code(self) -> str | None:
        return (self.error or {}).get("code")


@dataclass
class WsClient:
    runtime: Any
    management: Any
    issuer: Any
    calls: Counter = field(default_factory=Counter)

    def handler(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        from connection_handler.app import handler

        from tests.support.http_events import FakeLambdaContext

        return handler(event, FakeLambdaContext(function_name="live-sessions-ws"))

    def connect(
        self, session_id: str | None, *, user: str | None = None, token: str | None = None, **query: str
    ) -> Handshake:
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

    def send(self, connection_id: str, body: Any, route_key: str | None = None, **event: Any) -> dict[str, Any]:
        """One MESSAGE event (`event` overrides its fields); the route response's body as a dict."""
        message = message_event(connection_id, body, route_key)
        message.update(event)
        result = self.handler(message, None)
        assert result["statusCode"] == 200, result
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
