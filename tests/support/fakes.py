"""A stand-in for the API Gateway management API that records what handlers send.

The fan-out's two calls are the lean path's (session_runtime/management_api.py: coroutines answering
the HTTP status); the odd boto3 call (get_connection) keeps boto3's shape and errors."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError


def _gone(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "GoneException", "Message": "gone"}, "ResponseMetadata": {"HTTPStatusCode": 410}},
        operation,
    )


class FakeManagementApi:
    """post_to_connection / delete_connection / get_connection, with connections that can be made gone
    (410) or slow (`failing`: every post answers that status, e.g. 429 for a client that does not read)."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closed: list[str] = []
        self.gone: set[str] = set()
        self.failing: dict[str, int] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def post_to_connection(self, *, connection_id: str, data: bytes) -> int:
        with self._lock:
            self.calls.append(("post", connection_id))
            if connection_id in self.gone:
                return 410
            if connection_id in self.failing:
                return self.failing[connection_id]
            self.sent[connection_id].append(json.loads(data))
        return 200

    async def delete_connection(self, *, connection_id: str) -> int:
        with self._lock:
            self.calls.append(("delete", connection_id))
            if connection_id in self.gone:
                return 410
            self.closed.append(connection_id)
        return 204

    def get_connection(self, *, ConnectionId: str) -> dict:  # noqa: N803
        if ConnectionId in self.gone:
            raise _gone("GetConnection")
        return {"ConnectionId": ConnectionId}

    def types_sent_to(self, connection_id: str) -> list[str]:
        return [m.get("type") for m in self.sent.get(connection_id, [])]


class TrailingNotices:
    """The notice queue, in tests: each trailing notice is recorded (`scheduled`) and, when `immediate`, handled at
    once as if its delay had passed (the slot claimed at the time it was due), so a test sees every notice without
    waiting; with `immediate=False` a test delivers them itself (`deliver_all`)."""

    def __init__(self, runtime: Any, *, immediate: bool = True) -> None:
        self.runtime = runtime
        self.immediate = immediate
        self.scheduled: list[tuple[Any, int]] = []

    def schedule(self, notice: Any, delay_seconds: int) -> None:
        self.scheduled.append((notice, delay_seconds))
        if self.immediate:
            self.runtime.notices.trailing(notice)

    def deliver_all(self) -> int:
        """Handle every recorded notice not yet handled, in order: how many."""
        waiting, self.scheduled = self.scheduled, []
        for notice, _ in waiting:
            self.runtime.notices.trailing(notice)
        return len(waiting)
