"""Drive both real handlers with real API Gateway events (tests/support/http_events.py, tests/support/ws_client.py).

Shared by the race, fuzz and attack tests: `Handlers(runtime, issuer)` calls
`http_session_handler.app.handler` with HTTP API v2 events and, through `WsClient`,
`connection_handler.app.handler` with WebSocket events, against the `runtime` fixture (moto, the captured
management API, the test issuer). Safe to call from many threads at once.
"""

from __future__ import annotations

from typing import Any

from tests.support.http_events import FakeLambdaContext, HttpAnswer, answer_of, http_event
from tests.support.ws_client import Handshake, WsClient

__all__ = ["Handlers", "Handshake"]


class Handlers(WsClient):
    def __init__(self, runtime: Any, issuer: Any) -> None:
        super().__init__(runtime, runtime.management, issuer)

    @property
    def store(self) -> Any:
        return self.runtime.store

    # -- HTTP API ----------------------------------------------------------------------------------------

    def http(self, method: str, path: str, **kwargs: Any) -> HttpAnswer:
        """`user=` sends a valid bearer token for that user; `token=` sends the given one (support/http_events.py)."""
        from http_session_handler.app import handler

        return answer_of(handler(http_event(method, path, **kwargs), FakeLambdaContext()))

    def create(self, owner: str = "owner-1", **body: Any) -> str:
        answer = self.http("POST", "/sessions", user=owner, body=body)
        assert answer.status == 201, answer.raw_body
        return answer.body["sessionId"]

    # -- what the table says -----------------------------------------------------------------------------

    def listeners(self, session_id: str) -> list[str]:
        return [c.connectionId for c in self.store.iter_connections(session_id) if c.role == "listener"]

    def listener_count(self, session_id: str) -> int:
        return self.session(session_id).listenerCount
