"""Send one payload to many WebSocket connections through the API Gateway management API.

Used by both handlers. Connections are read with a Query, page by page, and each one is handed to a
bounded pool of `concurrency` workers as it is read: a worker posts to its connection and, when the
send selects it for closing, closes it too. So at most `concurrency` management API calls are in
flight, posts stay in flight across Query pages (no page waits for its slowest post), and one slow or
dead connection holds one worker, never the others. At most `window` connections are handed over and
not yet finished, so reading ahead of the pool costs bounded memory however large the session.
A connection API Gateway reports gone (410 GoneException) is unregistered on the spot.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
    gone_speaker: bool = False  # one of the gone connections was a speaker's: its leave must be told


def encode_payload(payload: object) -> bytes:
    """Any JSON value (a frame's body, or a broadcast's `data` on its own), compact and UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _is_gone(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    gone: bool = code == "GoneException" or status == 410  # ClientError is untyped: the comparison is Any
    return gone


class Fanout:
    def __init__(
        self, store: SessionStore, management_client: Any, concurrency: int = 16, excluded: str | None = None
    ) -> None:
        self.store = store
        self.client = management_client
        self.concurrency = concurrency
        self.excluded = excluded

    def excluding(self, connection_id: str) -> Fanout:
        """This fan-out minus one connection: the caller, who gets the same event as its answer."""
        return Fanout(self.store, self.client, self.concurrency, excluded=connection_id)

    @property
    def window(self) -> int:
        """Connections handed to the pool and not finished yet, at most: enough to keep every worker busy."""
        return self.concurrency * 4

    def send_to(self, connection_id: str, payload: dict[str, Any]) -> bool:
        """Post to one connection. False (and the connection unregistered) when it is gone."""
        return self._post(connection_id, encode_payload(payload)) == "sent"

    def send(
        self,
        session_id: str,
        payload: dict[str, Any],
        *,
        then: dict[str, Any] | None = None,
        only: Callable[[Connection], bool] | None = None,
        close: Callable[[Connection], bool] | None = None,
    ) -> FanoutResult:
        """Post `payload` (and `then`, in that order) to every connection of a session (those `only`
        selects); then close those `close` selects.

        Each connection's posts and close run in order on one worker; `result` lists the gone and failed
        connections in the order they were read.
        """
        messages = [encode_payload(payload)] + ([encode_payload(then)] if then is not None else [])
        outcomes: dict[int, tuple[Connection, str]] = {}  # read order -> (connection, outcome)
        slots = threading.BoundedSemaphore(self.window)

        def deliver(connection: Connection) -> str:
            outcome = "sent"
            for data in messages:
                outcome = self._post(connection.connectionId, data)
                if outcome != "sent":
                    break
            if outcome == "sent" and close is not None and close(connection):
                self.close(connection.connectionId)
            return outcome

        def finished(index: int, connection: Connection, future: Future[str]) -> None:
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001  _post and close catch their own; never lose a slot
                logger.warning(
                    "fan-out delivery failed", extra={"connectionId": connection.connectionId, "error": repr(error)}
                )
                outcome = "failed"
            outcomes[index] = (connection, outcome)
            slots.release()

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="fanout") as pool:
            index = 0
            for connection in self.store.iter_connections(session_id):
                if connection.connectionId == self.excluded or (only is not None and not only(connection)):
                    continue
                slots.acquire()  # blocks only while `window` deliveries are unfinished
                future = pool.submit(deliver, connection)
                future.add_done_callback(functools.partial(finished, index, connection))
                index += 1
        # Leaving the pool waited for every delivery (also when reading the connections raised).
        result = FanoutResult()
        for connection, outcome in (outcomes[i] for i in sorted(outcomes)):
            if outcome == "sent":
                result.sent += 1
            elif outcome == "gone":
                result.gone.append(connection.connectionId)
                result.gone_speaker |= connection.role == "speaker"
            else:
                result.failed.append(connection.connectionId)
        if result.gone or result.failed:
            logger.info(
                "fan-out finished", extra={"sent": result.sent, "gone": len(result.gone), "failed": len(result.failed)}
            )
        return result

    def close(self, connection_id: str) -> None:
        """Ask API Gateway to close a connection; its $disconnect unregisters it. Gone is fine; never raises."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as error:
            if _is_gone(error):
                self._unregister(connection_id)
            else:
                logger.warning("could not close connection", extra={"connectionId": connection_id, "error": str(error)})
        except Exception as error:  # noqa: BLE001  a timeout on one connection must not stop the others
            logger.warning("could not close connection", extra={"connectionId": connection_id, "error": repr(error)})

    def _post(self, connection_id: str, data: bytes) -> str:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
            return "sent"
        except ClientError as error:
            if _is_gone(error):
                self._unregister(connection_id)
                return "gone"
            logger.warning("post_to_connection failed", extra={"connectionId": connection_id, "error": str(error)})
            return "failed"
        except Exception as error:  # noqa: BLE001  a timeout on one connection must not stop the others
            logger.warning("post_to_connection failed", extra={"connectionId": connection_id, "error": repr(error)})
            return "failed"

    def _unregister(self, connection_id: str) -> None:
        """Remove a connection API Gateway reported gone; a table error is logged (the record's TTL is the backstop)."""
        try:
            self.store.unregister_connection(connection_id)
        except Exception as error:  # noqa: BLE001  the other deliveries go on
            logger.warning(
                "could not unregister a gone connection", extra={"connectionId": connection_id, "error": repr(error)}
            )
