"""Send one payload to many WebSocket connections through the API Gateway management API.

Used by both handlers. Connections are read with a Query, page by page; each page is posted
concurrently with a bounded pool, so one slow or dead connection never holds back the others.
A connection API Gateway reports gone (410 GoneException) is unregistered on the spot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from session_schema.models import Connection
from session_schema.store import SessionStore

from .observability import logger


@dataclass
class FanoutResult:
    sent: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _is_gone(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code == "GoneException" or status == 410


class Fanout:
    def __init__(self, store: SessionStore, management_client: Any, concurrency: int = 16) -> None:
        self.store = store
        self.client = management_client
        self.concurrency = concurrency

    def send_to(self, connection_id: str, payload: dict[str, Any]) -> bool:
        """Post to one connection. False (and the connection unregistered) when it is gone."""
        return self._post(connection_id, encode_payload(payload)) == "sent"

    def send(
        self,
        session_id: str,
        payload: dict[str, Any],
        *,
        only: Callable[[Connection], bool] | None = None,
        close: Callable[[Connection], bool] | None = None,
    ) -> FanoutResult:
        """Post `payload` to every connection of a session (those `only` selects); then close those `close` selects."""
        data = encode_payload(payload)
        result = FanoutResult()
        page: list[Connection] = []
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="fanout") as pool:
            for connection in self.store.iter_connections(session_id):
                if only is None or only(connection):
                    page.append(connection)
                if len(page) >= 256:
                    self._post_page(pool, page, data, close, result)
                    page = []
            if page:
                self._post_page(pool, page, data, close, result)
        if result.gone or result.failed:
            logger.info("fan-out finished", extra={"sent": result.sent, "gone": len(result.gone), "failed": len(result.failed)})
        return result

    def close(self, connection_id: str) -> None:
        """Ask API Gateway to close a connection; its $disconnect unregisters it. Gone is fine."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as error:
            if _is_gone(error):
                self.store.unregister_connection(connection_id)
            else:
                logger.warning("could not close connection", extra={"connectionId": connection_id, "error": str(error)})

    def _post_page(
        self,
        pool: ThreadPoolExecutor,
        page: Iterable[Connection],
        data: bytes,
        close: Callable[[Connection], bool] | None,
        result: FanoutResult,
    ) -> None:
        connections = list(page)
        for connection, outcome in zip(connections, pool.map(lambda c: self._post(c.connectionId, data), connections)):
            if outcome == "sent":
                result.sent += 1
                if close is not None and close(connection):
                    self.close(connection.connectionId)
            elif outcome == "gone":
                result.gone.append(connection.connectionId)
            else:
                result.failed.append(connection.connectionId)

    def _post(self, connection_id: str, data: bytes) -> str:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
            return "sent"
        except ClientError as error:
            if _is_gone(error):
                self.store.unregister_connection(connection_id)
                return "gone"
            logger.warning("post_to_connection failed", extra={"connectionId": connection_id, "error": str(error)})
            return "failed"
        except Exception as error:  # noqa: BLE001  a timeout on one connection must not stop the others
            logger.warning("post_to_connection failed", extra={"connectionId": connection_id, "error": repr(error)})
            return "failed"
