"""The fan-out's concurrency: a bounded pool for posts and closes alike, no barrier between Query pages,
and one slow or dead connection never holding back the others (no table: a fake store and client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from botocore.exceptions import ClientError, ReadTimeoutError

from session_runtime.fanout import Fanout
from session_schema.models import Connection

from tests.ws_events import new_connection_id

SESSION = "quiet-river-482"
WAIT = 10.0  # seconds a blocked call waits for the others before giving up (a failure, not a hang)


def _connection(role: str = "listener") -> Connection:
    return Connection(connectionId=new_connection_id(), sessionId=SESSION, role=role, connectedAt=1, expiresAt=2)


class FakeStore:
    """iter_connections / unregister_connection; counts how far the fan-out has read ahead."""

    def __init__(self, connections: list[Connection], client: SlowClient) -> None:
        self.connections = connections
        self.client = client
        self.unregistered: list[str] = []
        self.max_read_ahead = 0

    def iter_connections(self, session_id: str) -> Iterator[Connection]:
        for read, connection in enumerate(self.connections):
            self.max_read_ahead = max(self.max_read_ahead, read - self.client.finished_count())
            yield connection

    def unregister_connection(self, connection_id: str) -> None:
        self.unregistered.append(connection_id)


def _gone() -> ClientError:
    return ClientError({"Error": {"Code": "GoneException"}, "ResponseMetadata": {"HTTPStatusCode": 410}}, "Post")


class SlowClient:
    """A management API where one post and one close block until every ordinary connection is closed,
    one connection is gone and one times out; it records calls in flight and their order."""

    def __init__(
        self, *, slow_post: str, slow_close: str, gone: str, dead: str, ordinary: set[str], speaker: str
    ) -> None:
        self.slow_post, self.slow_close, self.gone, self.dead = slow_post, slow_close, gone, dead
        self.ordinary = ordinary
        self.post_only = {gone, dead, speaker}  # connections that get no close
        self.posted: list[str] = []
        self.closed: list[str] = []
        self.finished: set[str] = set()  # the connection's last call has returned
        self.in_flight = 0
        self.max_in_flight = 0
        self.waits_timed_out: list[str] = []
        self._lock = threading.Lock()
        self._ordinary_closed = threading.Event()

    def finished_count(self) -> int:
        with self._lock:
            return len(self.finished)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self, connection_id: str, *, last: bool) -> None:
        with self._lock:
            self.in_flight -= 1
            if last:
                self.finished.add(connection_id)

    def _wait_for_the_others(self, what: str) -> None:
        if not self._ordinary_closed.wait(WAIT):
            self.waits_timed_out.append(what)

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict:  # noqa: N803
        self._enter()
        last = ConnectionId in self.post_only
        try:
            if ConnectionId == self.slow_post:
                self._wait_for_the_others("post")
            time.sleep(0.0005)
            if ConnectionId == self.gone:
                raise _gone()
            if ConnectionId == self.dead:
                raise ReadTimeoutError(endpoint_url="https://example.invalid")
            with self._lock:
                self.posted.append(ConnectionId)
            return {}
        finally:
            self._leave(ConnectionId, last=last)

    def delete_connection(self, *, ConnectionId: str) -> dict:  # noqa: N803
        self._enter()
        try:
            with self._lock:
                assert ConnectionId in self.posted  # a close only after its own post
            if ConnectionId == self.slow_close:
                self._wait_for_the_others("close")
            time.sleep(0.0005)
            with self._lock:
                self.closed.append(ConnectionId)
                if self.ordinary <= set(self.closed):
                    self._ordinary_closed.set()
            return {}
        finally:
            self._leave(ConnectionId, last=True)


def test_a_slow_post_and_a_slow_close_hold_back_no_one_and_calls_stay_bounded():
    concurrency = 8
    speaker = _connection("speaker")
    listeners = [_connection() for _ in range(1_000)]  # ~4 of the fan-out's old 256-connection pages
    slow_post, slow_close, gone, dead = (c.connectionId for c in listeners[:4])
    ordinary = {c.connectionId for c in listeners[4:]}
    client = SlowClient(
        slow_post=slow_post,
        slow_close=slow_close,
        gone=gone,
        dead=dead,
        ordinary=ordinary,
        speaker=speaker.connectionId,
    )
    store = FakeStore([listeners[0], speaker, *listeners[1:]], client)
    fanout = Fanout(store, client, concurrency=concurrency)  # type: ignore[arg-type]

    result = fanout.send(SESSION, {"type": "sessionEnded"}, close=lambda c: c.role == "listener")

    # Every other connection was delivered and closed while the slow ones were still blocked in their call.
    assert client.waits_timed_out == []
    assert ordinary <= set(client.posted) and ordinary <= set(client.closed)
    assert speaker.connectionId in client.posted and speaker.connectionId not in client.closed
    assert {slow_post, slow_close} <= set(client.closed)
    assert result.sent == len(ordinary) + 3  # the speaker and the two slow ones
    assert (result.gone, result.failed, store.unregistered) == ([gone], [dead], [gone])
    assert gone not in client.closed and dead not in client.closed
    assert len(client.closed) == len(set(client.closed)) == len(ordinary) + 2  # each closed once
    # Posts and closes share one bounded pool; reading ahead of it is bounded too.
    assert 1 < client.max_in_flight <= concurrency
    assert store.max_read_ahead <= fanout.window


def test_deliveries_keep_flowing_across_query_pages():
    """A post still in flight from an early page does not stop later connections from being posted."""
    listeners = [_connection() for _ in range(600)]
    first = listeners[0].connectionId
    later = {c.connectionId for c in listeners[300:]}  # past the first 256 read
    done_later = threading.Event()
    posted: list[str] = []
    lock = threading.Lock()
    blocked = []

    class Client:
        def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict:  # noqa: N803
            if ConnectionId == first and not done_later.wait(WAIT):
                blocked.append(first)
            with lock:
                posted.append(ConnectionId)
                if later <= set(posted):
                    done_later.set()
            return {}

    fanout = Fanout(FakeStore(listeners, _NoClient()), Client(), concurrency=4)  # type: ignore[arg-type]
    result = fanout.send(SESSION, {"type": "broadcast"})
    assert blocked == [] and result.sent == 600 and sorted(posted) == sorted(c.connectionId for c in listeners)


class _NoClient:
    def finished_count(self) -> int:
        return 10**9  # read-ahead is not measured in this test
