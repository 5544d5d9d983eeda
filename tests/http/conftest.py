"""An HTTP API client that calls the handler with real v2 events, against moto and the fake management API."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from session_schema.models import Connection, Session

from tests.support.http_events import FakeLambdaContext, HttpAnswer, answer_of, http_event


class Api:
    def __init__(self, runtime, issuer) -> None:
        from http_session_handler.app import handler

        self._handler = handler
        self.runtime = runtime
        self.issuer = issuer

    def call(self, method: str, path: str, **kwargs: Any) -> HttpAnswer:
        return answer_of(self._handler(http_event(method, path, **kwargs), FakeLambdaContext()))

    def create(self, user: str = "alice", **body: Any) -> dict[str, Any]:
        answer = self.call("POST", "/sessions", user=user, body=body)
        assert answer.status == 201, answer.raw_body
        return answer.body

    def token(self, user: str) -> str:
        return self.issuer.mint(user)

    def listen(self, session_id: str, connection_id: str, role: str = "listener", user: str | None = None) -> None:
        """Register a WebSocket connection the way $connect does (through the store)."""
        owner = self.store.get_session(session_id).ownerId if role == "speaker" else None
        self.store.register_connection(
            Connection(
                connectionId=connection_id,
                sessionId=session_id,
                role=role,
                userId=user or owner,
                connectedAt=self.store.clock(),
                expiresAt=self.store.clock() // 1000 + 3600,
            ),
            owner_id=owner,
        )

    @property
    def store(self):
        return self.runtime.store

    def session(self, session_id: str) -> Session:
        return self.store.get_session(session_id, consistent=True)


@pytest.fixture
def api(runtime, issuer) -> Api:
    return Api(runtime, issuer)


class Logs:
    """The handler's JSON log lines (Powertools Logger), captured whatever stream it was built with."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._buffer.getvalue().splitlines() if line.startswith("{")]

    @property
    def text(self) -> str:
        return self._buffer.getvalue()


@pytest.fixture
def logs() -> Logs:
    from session_runtime.observability import logger

    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield Logs(buffer)
    logger.registered_handler.setStream(previous)
