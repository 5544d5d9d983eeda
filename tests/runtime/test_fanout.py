"""The fan-out's concurrency: a bounded number of calls for posts and closes alike, no barrier between Query
pages, and one slow or dead connection never holding back the others (no table: a fake store and client
with the lean management API's shape: coroutines answering the HTTP status, raising on a timeout)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from session_runtime import fanout as fanout_module
from session_runtime.fanout import FIRST_QUERY_PAGE, Fanout
from session_schema.models import Connection, ConnectionTarget

from tests.support.ws_events import new_connection_id

SESSION = "quiet-river-482"
WAIT = 10.0  # seconds a blocked call waits for the others before giving up (a failure, not a hang)


def _connection(role: str = "listener") -> Connection:
    return Connection(connectionId=new_connection_id(), sessionId=SESSION, role=role, connectedAt=1, expiresAt=2)


def _target(connection: Connection) -> ConnectionTarget:
    """What the store's projected Query gives the fan-out for a connection."""
    return ConnectionTarget(connectionId=connection.connectionId, role=connection.role)


class FakeStore:
    """iter_connection_targets / unregister_connection; counts how far the fan-out has read ahead."""

    def __init__(self, connections: list[Connection], client: SlowClient) -> None:
        self.connections = connections
        self.client = client
        self.unregistered: list[str] = []
        self.max_read_ahead = 0

    def iter_connection_targets(self, session_id: str, **_: object) -> Iterator[ConnectionTarget]:
        for read, connection in enumerate(self.connections):
            self.max_read_ahead = max(self.max_read_ahead, read - self.client.finished_count())
            yield _target(connection)

    def clock(self) -> int:
        return 0

    def unregister_connection(self, connection_id: str, **_: object) -> None:
        self.unregistered.append(connection_id)


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
        self._lock = threading.Lock()  # the store reads on a helper thread
        self._ordinary_closed = asyncio.Event()

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

    async def _wait_for_the_others(self, what: str) -> None:
        try:
            await asyncio.wait_for(self._ordinary_closed.wait(), WAIT)
        except TimeoutError:
            self.waits_timed_out.append(what)

    async def post_to_connection(self, *, connection_id: str, data: bytes) -> int:
        self._enter()
        last = connection_id in self.post_only
        try:
            if connection_id == self.slow_post:
                await self._wait_for_the_others("post")
            await asyncio.sleep(0.0005)
            if connection_id == self.gone:
                return 410
            if connection_id == self.dead:
                raise TimeoutError("no answer from the management API in time")
            with self._lock:
                self.posted.append(connection_id)
            return 200
        finally:
            self._leave(connection_id, last=last)

    async def delete_connection(self, *, connection_id: str) -> int:
        self._enter()
        try:
            with self._lock:
                assert connection_id in self.posted  # a close only after its own post
            if connection_id == self.slow_close:
                await self._wait_for_the_others("close")
            await asyncio.sleep(0.0005)
            with self._lock:
                self.closed.append(connection_id)
                if self.ordinary <= set(self.closed):
                    self._ordinary_closed.set()
            return 204
        finally:
            self._leave(connection_id, last=True)


def test_a_slow_post_and_a_slow_close_hold_back_no_one_and_calls_stay_bounded(monkeypatch):
    monkeypatch.setattr(fanout_module, "FIRST_QUERY_PAGE", 10)  # pages far smaller than the session, so that
    monkeypatch.setattr(fanout_module, "QUERY_PAGE", 50)  # reading ahead of the posts could overrun its bound
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
    assert store.max_read_ahead <= fanout.read_ahead


def test_deliveries_keep_flowing_across_query_pages():
    """A post still in flight from an early page does not stop later connections from being posted."""
    listeners = [_connection() for _ in range(600)]
    first = listeners[0].connectionId
    later = {c.connectionId for c in listeners[300:]}  # past the first 256 read
    done_later = asyncio.Event()
    posted: list[str] = []
    blocked = []

    class Client:
        async def post_to_connection(self, *, connection_id: str, data: bytes) -> int:
            if connection_id == first:
                try:
                    await asyncio.wait_for(done_later.wait(), WAIT)
                except TimeoutError:
                    blocked.append(first)
            posted.append(connection_id)
            if later <= set(posted):
                done_later.set()
            return 200

    fanout = Fanout(FakeStore(listeners, _NoClient()), Client(), concurrency=4)  # type: ignore[arg-type]
    result = fanout.send(SESSION, {"type": "broadcast"})
    assert blocked == [] and result.sent == 600 and sorted(posted) == sorted(c.connectionId for c in listeners)


def test_the_first_posts_wait_for_the_first_small_page_only():
    """Posting starts once the first (small) Query page is read, not the whole session; a fan-out worker's
    shard (`read_whole`) is read whole before its first post."""
    listeners = [_connection() for _ in range(3 * FIRST_QUERY_PAGE)]

    class GatedStore(FakeStore):
        """Reads past the first page only once a post was made (or WAIT passed: the fan-out waited for more)."""

        gate = True
        posted = threading.Event()
        posted_on_the_first_page = False
        posted_before_the_end = False

        def iter_connection_targets(self, session_id: str, **_: object) -> Iterator[ConnectionTarget]:
            for read, connection in enumerate(self.connections):
                if read == FIRST_QUERY_PAGE and self.gate:
                    self.posted_on_the_first_page = self.posted.wait(WAIT)
                yield _target(connection)
            self.posted_before_the_end = self.posted.is_set()

    class Client:
        def __init__(self, store: GatedStore) -> None:
            self.store = store

        async def post_to_connection(self, *, connection_id: str, data: bytes) -> int:
            self.store.posted.set()
            return 200

    streamed = GatedStore(listeners, _NoClient())  # type: ignore[arg-type]
    streamed.posted = threading.Event()
    assert Fanout(streamed, Client(streamed)).send(SESSION, {"type": "broadcast"}).sent == len(listeners)  # type: ignore[arg-type]
    assert streamed.posted_on_the_first_page

    whole = GatedStore(listeners, _NoClient())  # type: ignore[arg-type]
    whole.gate, whole.posted = False, threading.Event()
    result = Fanout(whole, Client(whole)).send_many(SESSION, [{"type": "broadcast"}], read_whole=True)  # type: ignore[arg-type]
    assert result.sent == len(listeners) and not whole.posted_before_the_end


def test_a_read_failing_on_a_later_page_raises_after_the_first_page_was_served(monkeypatch):
    """Streaming pages: a Query failing past the first page stops the fan-out, but every connection already
    read is served first (none is left half-done), then the failure is raised to the caller."""
    monkeypatch.setattr(fanout_module, "FIRST_QUERY_PAGE", 10)
    monkeypatch.setattr(fanout_module, "QUERY_PAGE", 20)
    listeners = [_connection() for _ in range(100)]

    class FailingStore(FakeStore):
        def iter_connection_targets(self, session_id: str, **_: object) -> Iterator[ConnectionTarget]:
            yield from map(_target, self.connections[:30])  # the first page and the second
            raise ConnectionError("the Query's next page failed")

    posted: list[str] = []

    class Client:
        async def post_to_connection(self, *, connection_id: str, data: bytes) -> int:
            await asyncio.sleep(0)
            posted.append(connection_id)
            return 200

    fanout = Fanout(FailingStore(listeners, _NoClient()), Client(), concurrency=4)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        fanout.send(SESSION, {"type": "broadcast"})
    assert sorted(posted) == sorted(c.connectionId for c in listeners[:30])  # the two pages read, each once


class _NoClient:
    def finished_count(self) -> int:
        return 10**9  # read-ahead is not measured in this test


@pytest.mark.parametrize(
    ("items", "limits"),
    [
        (0, [100]),
        (99, [100]),
        (100, [100, 200]),  # a page filled to its Limit: one more Query finds nothing
        (500, [100, 200, 400]),
        (2_001, [100, 200, 400, 800, 1000]),
        (3_499, [100, 200, 400, 800, 1000, 1000]),
        (3_500, [100, 200, 400, 800, 1000, 1000, 1000]),
    ],
)
def test_the_fan_out_s_query_pages_double_from_the_first_up_to_the_largest(items, limits):
    assert fanout_module.page_limits(items) == limits
    assert fanout_module.query_count(items) == len(limits)
