"""A stand-in for the API Gateway management API that records what handlers send."""

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
    """post_to_connection / delete_connection / get_connection, with connections that can be made gone."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closed: list[str] = []
        self.gone: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict:  # noqa: N803  boto3's names
        with self._lock:
            self.calls.append(("post", ConnectionId))
            if ConnectionId in self.gone:
                raise _gone("PostToConnection")
            self.sent[ConnectionId].append(json.loads(Data))
        return {}

    def delete_connection(self, *, ConnectionId: str) -> dict:  # noqa: N803
        with self._lock:
            self.calls.append(("delete", ConnectionId))
            if ConnectionId in self.gone:
                raise _gone("DeleteConnection")
            self.closed.append(ConnectionId)
        return {}

    def get_connection(self, *, ConnectionId: str) -> dict:  # noqa: N803
        if ConnectionId in self.gone:
            raise _gone("GetConnection")
        return {"ConnectionId": ConnectionId}

    def types_sent_to(self, connection_id: str) -> list[str]:
        return [m.get("type") for m in self.sent.get(connection_id, [])]
