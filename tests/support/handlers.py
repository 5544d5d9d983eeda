"""The one driver of the real Lambda handlers in tests: real API Gateway and EventBridge events in, what a client
(or API Gateway) gets back out.

`Handlers(runtime, issuer)` calls `http_session_handler.app.handler` with HTTP API v2 events
(support/http_events.py), `connection_handler.app.handler` with WebSocket events (support/ws_events.py),
the speakerless sweep with a scheduled event and the fan-out worker with a job, each with the Lambda
context its function gets. `runtime` is the handlers' runtime (the `runtime` fixture: moto, the captured
management API, the test issuer trusted); the driver reads the table and the captured management API
through it. Every test folder uses this one class: the `handlers` fixture (tests/conftest.py), and the
same object as `api` (tests/http) and `ws` (tests/ws). Safe to call from many threads at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from session_schema.models import Connection, Session

from tests.support.http_events import FakeLambdaContext, HttpAnswer, answer_of, http_event
from tests.support.ws_events import (
    connect_event,
    disconnect_message,
    disconnect_queue_event,
    message_event,
    new_connection_id,
)

# The driver's connections opened their sockets this long ago by default: past API Gateway's handshake window
# (the HANDSHAKE_WINDOW_SECONDS setting), as a connection that has been open a while, so a 410 for one of them
# unregisters it. Tests of the window itself connect with `connected_ago_ms=0`.
PAST_HANDSHAKE_MS = 60_000

# What EventBridge delivers to the sweep on its schedule.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "5d4f2c1e-1111-2222-3333-444455556666",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/live-sessions-sweep"],
    "detail": {},
}


@dataclass
class Handshake:
    """What `$connect` answered: 200, or the refusal's status and the contract's error body."""

    connection_id: str
    status: int
    error: dict[str, Any] | None

    @property
    def code(self) -> str | None:
        return (self.error or {}).get("code")


@dataclass
class Live:
    """A session with its owner connected as speaker (the `live` fixture of tests/ws)."""

    session_id: str
    owner: str
    speaker: str


class Handlers:
    def __init__(self, runtime: Any, issuer: Any) -> None:
        self.runtime = runtime
        self.issuer = issuer

    @property
    def store(self) -> Any:
        return self.runtime.store

    @property
    def management(self) -> Any:
        """The captured management API (support/fakes.py): the one the runtime holds now."""
        return self.runtime.management

    # -- the handlers, one event each ----------------------------------------------------------------------

    def http_answer(self, event: dict[str, Any]) -> HttpAnswer:
        """The HTTP handler's answer to a prepared v2 event, as a client sees it."""
        from http_session_handler.app import handler

        return answer_of(handler(event, FakeLambdaContext()))

    def http(self, method: str, path: str, **kwargs: Any) -> HttpAnswer:
        """`user=` sends a valid bearer token for that user; `token=` sends the given one (support/http_events.py)."""
        return self.http_answer(http_event(method, path, **kwargs))

    def websocket(self, event: dict[str, Any]) -> dict[str, Any]:
        """The connection handler's raw result for a WebSocket event (CONNECT, MESSAGE or DISCONNECT)."""
        from connection_handler.app import handler

        return handler(event, FakeLambdaContext(function_name="live-sessions-ws"))

    def sweep(self, event: dict[str, Any] = SCHEDULED_EVENT) -> dict[str, Any]:
        from connection_handler.sweep import handler

        return handler(event, FakeLambdaContext(function_name="live-sessions-sweep"))

    def fanout_worker(self, job: dict[str, Any]) -> dict[str, Any]:
        from connection_handler.fanout_worker import handler

        return handler(job, FakeLambdaContext(function_name="live-sessions-fanout-worker"))

    # -- HTTP API ------------------------------------------------------------------------------------------

    def create(self, user: str = "alice", **body: Any) -> dict[str, Any]:
        """POST /sessions as `user`: the created session's owner view."""
        answer = self.http("POST", "/sessions", user=user, body=body)
        assert answer.status == 201, answer.raw_body
        return answer.body

    def token(self, user: str) -> str:
        return self.issuer.mint(user)

    # -- WebSocket API -------------------------------------------------------------------------------------

    def connect(
        self,
        session_id: str | None,
        *,
        user: str | None = None,
        token: str | None = None,
        connected_ago_ms: int = PAST_HANDSHAKE_MS,
        **query: str,
    ) -> Handshake:
        connection_id = new_connection_id()
        params = dict(query)
        if session_id is not None:
            params["sessionId"] = session_id
        if user is not None:
            params["token"] = self.issuer.mint(user)
        if token is not None:
            params["token"] = token
        result = self.websocket(connect_event(connection_id, params or None, connected_ago_ms))
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
        result = self.websocket(message)
        assert result["statusCode"] == 200, result
        return json.loads(result["body"])

    def act(self, connection_id: str, action: str, **fields: Any) -> dict[str, Any]:
        return self.send(connection_id, {"action": action, **fields})

    def disconnect(self, connection_id: str) -> dict[str, Any]:
        """The connection's `$disconnect`, as the disconnect queue's mapping delivers it (a batch of one)."""
        return self.disconnect_batch(disconnect_message(connection_id))

    def disconnect_batch(self, *bodies: str) -> dict[str, Any]:
        """A batch of disconnect queue messages: the function's answer (`batchItemFailures`)."""
        return self.websocket(disconnect_queue_event(*bodies))

    def received(self, connection_id: str, type_: str | None = None) -> list[dict[str, Any]]:
        sent = self.management.sent.get(connection_id, [])
        return [m for m in sent if type_ is None or m.get("type") == type_]

    # -- the table, written and read directly --------------------------------------------------------------

    def create_session(self, owner: str = "owner-1", max_listeners: int = 100, title: str = "Talk") -> Session:
        """A session written through the store (no HTTP request)."""
        session, _ = self.store.create_session(
            owner_id=owner, title=title, source_language="en", max_listeners=max_listeners
        )
        return session

    def listen(self, session_id: str, connection_id: str, role: str = "listener", user: str | None = None) -> None:
        """Register a WebSocket connection the way $connect does (through the store)."""
        owner = self.store.get_session(session_id).ownerId if role == "speaker" else None
        self.store.register_connection(
            Connection(
                connectionId=connection_id,
                sessionId=session_id,
                role=role,
                userId=user or owner,
                connectedAt=self.store.clock() - PAST_HANDSHAKE_MS,
                expiresAt=self.store.clock() // 1000 + 3600,
            ),
            owner_id=owner,
        )

    def session(self, session_id: str) -> Session:
        return self.store.get_session(session_id, consistent=True)

    def listeners(self, session_id: str) -> list[str]:
        return [c.connectionId for c in self.store.iter_connections(session_id) if c.role == "listener"]

    def listener_count(self, session_id: str) -> int:
        return self.session(session_id).listenerCount
