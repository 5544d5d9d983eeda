"""Send events to many WebSocket connections through the API Gateway management API.

Several events of one send travel in `batch` frames to connections whose protocol version has them, one frame
per event to the others (session_protocol/batch.py: each connection's frames follow from its version).

Used by both handlers. The posts are coroutines on this thread's event loop (session_runtime/loop.py)
calling the lean management API (session_runtime/management_api.py). Connections are read with a Query,
page by page: a small first page inline (nothing is in flight yet), each next one (twice the one before, up to
QUERY_PAGE) on a helper thread while the page before is posted (one hand-over per page, not per connection).
`concurrency` workers take the connections in read order, each serving one at a time: a delivery posts its
connection's messages in order and, when the send selects it for closing, closes it too. So at most
`concurrency` management API calls are in flight, posts stay in flight across Query pages (no page waits for its
slowest post), and one slow or dead connection holds one worker, never the others. At most two pages are held
(`read_ahead`), so reading ahead costs bounded memory however large the session.

- 410 Gone: the connection is unregistered on the spot, unless it registered within the handshake window
  (`handshake_window_ms`, the HANDSHAKE_WINDOW_SECONDS setting): API Gateway answers 410 to posts before
  `$connect` has returned, so a young connection is left to its `$disconnect` and the sweep. A connection item
  whose lookup item is gone (a half registration) is unregistered all the same: the fan-out knows its session.
- Any other failure (a 5xx, a timeout: every call is bounded by the management API's timeout) leaves
  the connection registered: it says nothing about the client.
- A 429 that outlasted the retries is what API Gateway answers for a client whose buffer is full (it
  stopped reading): a strike against the connection, counted only when most of that fan-out's posts
  succeeded (an account-wide throttle strikes no one). `strikes.limit` strikes in a row (in this
  execution environment; a success clears them) and the connection is closed and unregistered as a slow
  consumer, so a listener that stopped reading costs the others at most that many bounded waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from session_protocol.batch import Outgoing
from session_protocol.encoding import encode_payload
from session_schema.keys import ConnectionScope
from session_schema.models import ConnectionTarget
from session_store import dynamo
from session_store.aws_errors import is_throttle
from session_store.store import SessionStore

from . import loop, metric_names
from .observability import logger, metrics, subsegment
from .shards import MAX_EVENTS_PER_JOB, ShardDispatcher, ShardJob, shard_count

Outcome = Literal["sent", "gone", "failed", "throttled"]
STRIKES_TO_CLOSE = 3
# Connections per Query page: posts start after the first page instead of the whole session's read, and
# one Query call stays short (a 1 MB page is ~6,000 connections). The first page is small, so the first posts
# wait for a short Query only; each next page, read while the one before is posted, is twice as large up to
# QUERY_PAGE (100, 200, 400, 800, 1000, ...): one read of a whole QUERY_PAGE after the first 100 left every post
# waiting for it (about 50 ms of a 2,000-listener broadcast on the local stack, bench/fanout.py).
FIRST_QUERY_PAGE = 100
QUERY_PAGE = 1000


def page_limits(items: int) -> list[int]:
    """The Limit of each Query a fan-out makes to read `items` connection items: FIRST_QUERY_PAGE, then each the
    one before doubled, up to QUERY_PAGE, and one more Query after a page filled to its Limit (dynamo.page_limits)."""
    return dynamo.page_limits(items, FIRST_QUERY_PAGE, QUERY_PAGE)


def query_count(items: int) -> int:
    """The Queries a fan-out makes to read `items` connection items (`page_limits`)."""
    return len(page_limits(items))


_STRIKES_KEPT = 10_000  # connections with strikes remembered per environment, at most


class ManagementClient(Protocol):
    """The two calls a fan-out makes (session_runtime.management_api.ManagementApi; a fake in tests)."""

    async def post_to_connection(self, *, connection_id: str, data: bytes) -> int: ...

    async def delete_connection(self, *, connection_id: str) -> int: ...


@dataclass
class FanoutResult:
    sent: int = 0
    gone: list[str] = field(default_factory=list)  # unregistered: reported gone, or closed as slow consumers
    failed: list[str] = field(default_factory=list)  # not reached this time, still registered
    slow_closed: list[str] = field(default_factory=list)  # the part of `gone` closed for failing repeatedly
    gone_speaker: bool = False  # one of the gone connections was a speaker's: its leave must be told
    remote_shards: int = 0  # shards handed to the fan-out worker (not counted in the fields above)

    def add(self, other: FanoutResult) -> None:
        self.sent += other.sent
        self.gone += other.gone
        self.failed += other.failed
        self.slow_closed += other.slow_closed
        self.gone_speaker |= other.gone_speaker


def is_listener(connection: ConnectionTarget) -> bool:
    """The one listeners-only selection, so a sharded fan-out can tell the worker (ShardJob.listenersOnly)."""
    return connection.role == "listener"


class Strikes:
    """Consecutive failed posts per connection, shared by every fan-out of an execution environment."""

    def __init__(self, limit: int = STRIKES_TO_CLOSE) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def failed(self, connection_id: str) -> bool:
        """Count a failure; True when the connection has now failed `limit` times in a row."""
        count = self._counts.pop(connection_id, 0) + 1
        if count >= self.limit:
            return True
        if len(self._counts) >= _STRIKES_KEPT:
            self._counts.pop(next(iter(self._counts)))  # the oldest: memory stays bounded
        self._counts[connection_id] = count
        return False

    def cleared(self, connection_id: str) -> None:
        self._counts.pop(connection_id, None)


class Fanout:
    def __init__(
        self,
        store: SessionStore,
        management_client: ManagementClient,
        concurrency: int = 16,
        excluded: str | None = None,
        strikes: Strikes | None = None,
        dispatcher: ShardDispatcher | None = None,
        handshake_window_ms: int = 29_000,
    ) -> None:
        self.store = store
        self.handshake_window_ms = handshake_window_ms
        self.client = management_client
        self.concurrency = concurrency
        self.excluded = excluded
        self.strikes = strikes if strikes is not None else Strikes()
        self.dispatcher = dispatcher  # None: every fan-out is served here (the worker itself, tests)

    def excluding(self, connection_id: str) -> Fanout:
        """This fan-out minus one connection: the caller, who gets the same event as its answer."""
        return Fanout(
            self.store,
            self.client,
            self.concurrency,
            excluded=connection_id,
            strikes=self.strikes,
            dispatcher=self.dispatcher,
            handshake_window_ms=self.handshake_window_ms,
        )

    @property
    def read_ahead(self) -> int:
        """Connections read and not finished yet, at most: the page being served, the next one read meanwhile,
        and the deliveries still in flight from the page before."""
        return 2 * QUERY_PAGE + self.concurrency

    def send_to(self, connection_id: str, payload: dict[str, Any]) -> bool:
        """Post to one connection. False (and the connection unregistered) when it is gone."""
        return self.send_raw(connection_id, encode_payload(payload))

    def send_raw(self, connection_id: str, data: bytes) -> bool:
        """Post already-encoded JSON (a kept stream event) to one connection; False as `send_to`."""
        return loop.run(self._deliver_one(connection_id, data)) == "sent"

    def send_all_to(self, connection_id: str, outgoing: Outgoing, version: int) -> bool:
        """Post events to one connection that declared protocol `version`, as few frames as that version allows
        (a recovery page: `Outgoing.kept`), in order; False (and the connection unregistered) when it is gone."""
        return all(self.send_raw(connection_id, frame) for frame in outgoing.frames_for(version))

    def close(self, connection_id: str) -> None:
        """Ask API Gateway to close a connection; its $disconnect unregisters it. Gone is fine; never raises."""
        loop.run(self._close(connection_id, asyncio.Semaphore(1)))

    def send(
        self,
        session_id: str,
        payload: dict[str, Any],
        *,
        then: dict[str, Any] | None = None,
        only: Callable[[ConnectionTarget], bool] | None = None,
        close: Callable[[ConnectionTarget], bool] | None = None,
        shard: tuple[int, int] | None = None,
        size: int | None = None,
        scope: ConnectionScope | None = None,
    ) -> FanoutResult:
        """`send_many` of `payload` (and `then`, after it)."""
        payloads = [payload] if then is None else [payload, then]
        return self.send_many(session_id, payloads, only=only, close=close, shard=shard, size=size, scope=scope)

    def send_many(
        self,
        session_id: str,
        payloads: Sequence[dict[str, Any]],
        *,
        only: Callable[[ConnectionTarget], bool] | None = None,
        close: Callable[[ConnectionTarget], bool] | None = None,
        shard: tuple[int, int] | None = None,
        size: int | None = None,
        read_whole: bool = False,
        scope: ConnectionScope | None = None,
    ) -> FanoutResult:
        """Post `payloads` in that order to every connection of a session (those `only` selects), in `batch`
        frames to the connections whose protocol version has them; then close those `close` selects. With
        `shard=(k, n)`, only the connections of shard k of n (session_schema.keys.ConnectionScope.ranges; a
        fan-out worker serves one shard). `scope`: whose connections are read (one channel's: a Query of that
        channel's range only); None, the whole session (every partition: its layout read from the session item).

        `size`: the session's connections as the caller knows them (its listenerCount, plus the speaker).
        Past the dispatcher's threshold the fan-out is sharded (session_runtime/shards.py): this call serves
        shard 0 (and any shard whose invoke failed) and returns without waiting for the others. Selections
        other than everyone or `is_listener`, and more events than a shard job carries, are always served here.

        `read_whole`: every connection is read before the first post (the fan-out worker's shard: see `_send`).

        Each connection's posts and close run in order; `result` lists the gone and failed connections in
        the order they were read. A stream event (one with a `seq`) skips the connections that do not take it live
        (ConnectionTarget.takes: a recovering join replays it to them instead); a connection that takes none of
        the events is left alone, not closed either.
        """
        if shard is None and size is not None and self.dispatcher is not None:
            shards = shard_count(size, self.dispatcher.threshold)
            if shards > 1 and _shardable(payloads, only, close):
                return self._send_sharded(session_id, payloads, only, close, shards, scope)
        # Each stream event's place: a connection a recovery holds, or replayed past it, skips it (`takes`). A
        # channel's event carries its seq in that channel's stream, held and released apart from the session's.
        seqs = tuple(_stream_position(payload) for payload in payloads)
        try:
            with subsegment("fanout"):  # one trace segment per fan-out, none per post
                result = loop.run(
                    self._send(session_id, Outgoing.of(payloads), only, close, shard, seqs, read_whole, scope)
                )
        except Exception as error:
            if read_whole or not is_throttle(error) or not _shardable(payloads, only, close):
                raise
            job = self._job(session_id, payloads, only, close, shard or (0, 1), scope)
            if not self._hand_over(job):
                raise
            return FanoutResult(remote_shards=1)
        if result.gone or result.failed:
            logger.info(
                "fan-out finished",
                extra={
                    "sent": result.sent,
                    "gone": len(result.gone),
                    "failed": len(result.failed),
                    "slowClosed": len(result.slow_closed),
                },
            )
        if result.failed:
            metrics.add_metric(name="FanoutFailed", unit=MetricUnit.Count, value=len(result.failed))
        if result.slow_closed:
            metrics.add_metric(name="SlowConsumerClosed", unit=MetricUnit.Count, value=len(result.slow_closed))
        return result

    def _send_sharded(
        self,
        session_id: str,
        payloads: Sequence[dict[str, Any]],
        only: Callable[[ConnectionTarget], bool] | None,
        close: Callable[[ConnectionTarget], bool] | None,
        shards: int,
        scope: ConnectionScope | None,
    ) -> FanoutResult:
        assert self.dispatcher is not None
        job = self._job(session_id, payloads, only, close, (0, shards), scope)
        result = FanoutResult()
        served_here = [0]
        for k in range(1, shards):
            if self.dispatcher.dispatch(job.model_copy(update={"shard": k})):
                result.remote_shards += 1
            else:
                served_here.append(k)
        for k in served_here:
            result.add(self.send_many(session_id, payloads, only=only, close=close, shard=(k, shards), scope=scope))
        return result

    def _job(
        self,
        session_id: str,
        payloads: Sequence[dict[str, Any]],
        only: Callable[[ConnectionTarget], bool] | None,
        close: Callable[[ConnectionTarget], bool] | None,
        shard: tuple[int, int],
        scope: ConnectionScope | None,
    ) -> ShardJob:
        """Shard `shard` (k, n) of this fan-out, as the fan-out worker takes it."""
        return ShardJob(
            **ShardJob.scope_fields(scope or self.store.scope_of(session_id)),
            sessionId=session_id,
            shard=shard[0],
            shards=shard[1],
            payloads=list(payloads),
            listenersOnly=only is is_listener,
            closeListeners=close is is_listener,
            excludedConnectionId=self.excluded,
        )

    def _hand_over(self, job: ShardJob) -> bool:
        """A fan-out whose connection reads stayed throttled past this invocation's patience: handed to the fan-out
        worker, whose failures Lambda retries and keeps (infra/fanout_worker.py), rather than reaching no one.
        The connections posted before the throttled page get the events again (clients drop a `seq` they have).
        False: no worker, or the invoke failed (the caller raises)."""
        if self.dispatcher is None or not self.dispatcher.dispatch(job):
            return False
        logger.warning(
            "connection reads stayed throttled; the fan-out is handed to the worker",
            extra={"sessionId": job.sessionId, "shard": job.shard, "shards": job.shards},
        )
        metrics.add_metric(name=metric_names.FANOUT_HANDED_OVER, unit=MetricUnit.Count, value=1)
        return True

    # -- on the loop ------------------------------------------------------------------------------------------

    async def _send(
        self,
        session_id: str,
        outgoing: Outgoing,
        only: Callable[[ConnectionTarget], bool] | None,
        close: Callable[[ConnectionTarget], bool] | None,
        shard: tuple[int, int] | None,
        seqs: tuple[StreamPosition | None, ...],
        read_whole: bool = False,
        scope: ConnectionScope | None = None,
    ) -> FanoutResult:
        calls = asyncio.Semaphore(self.concurrency)
        outcomes: list[tuple[ConnectionTarget, Outcome]] = []  # filled in read order (index = read order)
        running = asyncio.get_running_loop()

        async def deliver(index: int, connection: ConnectionTarget) -> None:
            try:
                frames = outgoing.frames_for(connection.protocolVersion, taken(connection))
                outcome = await self._deliver(connection, frames, calls, session_id)
                if outcome == "sent" and close is not None and close(connection):
                    await self._close(connection.connectionId, calls)
            except Exception as error:  # noqa: BLE001  _deliver and _close catch their own; never lose a slot
                logger.warning(
                    "fan-out delivery failed", extra={"connectionId": connection.connectionId, "error": repr(error)}
                )
                outcome = "failed"
            outcomes[index] = (connection, outcome)

        on_channels = any(position is not None and position.channel is not None for position in seqs)

        def taken(connection: ConnectionTarget) -> tuple[int, ...] | None:
            """The indexes of the events `connection` takes live, in order: a channel's events only when it is on that
            channel, a stream's events not below a recovery's mark; None: all of them."""
            if not connection.marked and not on_channels:
                return None
            return tuple(
                index for index, position in enumerate(seqs) if position is None or position.reaches(connection, now)
            )

        def wanted(connection: ConnectionTarget) -> bool:
            if connection.connectionId == self.excluded or taken(connection) == ():
                return False
            return only is None or only(connection)

        now = int(time.time() * 1000)  # against a hold's `heldUntil`, set with the store's clock (wall time)
        by_shard = {} if shard is None else {"shard": shard}
        read = self.store.iter_connection_targets(
            session_id, page_size=QUERY_PAGE, first_page_size=FIRST_QUERY_PAGE, scope=scope, **by_shard
        )
        # The first page is read inline (nothing is in flight yet for a helper thread to overlap with); a shard a
        # worker serves is read whole first: a read that fails raises with nothing sent, so Lambda's retry of the
        # whole shard repeats no delivery.
        first = list(read) if read_whole else list(islice(read, FIRST_QUERY_PAGE))
        pending: Iterator[ConnectionTarget] = filter(wanted, first)

        def after(page: list[ConnectionTarget], size: int) -> tuple[asyncio.Future[list[ConnectionTarget]], int] | None:
            """The page after a full one (and its size: the store's next Query Limit), read on a helper thread while
            that one is posted."""
            if len(page) < size:
                return None
            following = dynamo.next_page_limit(size, QUERY_PAGE)
            return running.run_in_executor(None, lambda: list(islice(read, following))), following

        ahead = None if read_whole else after(first, FIRST_QUERY_PAGE)

        async def take() -> ConnectionTarget | None:
            """The next connection to serve, in read order; None when every page has been handed out."""
            nonlocal pending, ahead
            while True:
                connection = next(pending, None)
                if connection is not None:
                    return connection
                fetched = ahead
                if fetched is None:
                    return None
                page = await fetched[0]
                if ahead is fetched:  # the first worker back installs the page and asks for the next one
                    pending = filter(wanted, page)
                    ahead = after(page, fetched[1])

        async def worker() -> None:
            while (connection := await take()) is not None:
                outcomes.append((connection, "failed"))
                await deliver(len(outcomes) - 1, connection)

        # `concurrency` workers, each serving one connection at a time (no task per connection): one slow or
        # dead connection holds one of them, never the others. A read that fails stops the workers as they come
        # back for more; every delivery handed over finishes first, then the failure is raised.
        ended = await asyncio.gather(*(worker() for _ in range(self.concurrency)), return_exceptions=True)
        for end in ended:
            if isinstance(end, BaseException):
                raise end
        result = FanoutResult()
        sent = sum(1 for _, outcome in outcomes if outcome == "sent")
        throttled = sum(1 for _, outcome in outcomes if outcome == "throttled")
        strike = sent >= throttled  # most were reached: the throttled ones are slow clients, not a throttle
        for connection, outcome in outcomes:
            if outcome == "sent":
                result.sent += 1
                continue
            if outcome == "gone":
                result.gone.append(connection.connectionId)
            elif outcome == "throttled" and strike and self.strikes.failed(connection.connectionId):
                result.slow_closed.append(connection.connectionId)
                result.gone.append(connection.connectionId)
            else:
                result.failed.append(connection.connectionId)
                continue
            result.gone_speaker |= connection.role == "speaker"
        # Closed after the others were served, in parallel, each bounded like a post.
        await asyncio.gather(*(self._close_slow(connection_id, calls) for connection_id in result.slow_closed))
        return result

    async def _deliver(
        self, connection: ConnectionTarget, messages: list[bytes], calls: asyncio.Semaphore, session_id: str
    ) -> Outcome:
        outcome: Outcome = "sent"
        for data in messages:
            outcome = await self._post(connection.connectionId, data, calls, session_id)
            if outcome != "sent":
                break
        if outcome == "sent":
            self.strikes.cleared(connection.connectionId)
        return outcome

    async def _deliver_one(self, connection_id: str, data: bytes) -> Outcome:
        """`send_to`: one post; a connection that keeps failing is closed as a fan-out would."""
        calls = asyncio.Semaphore(1)
        outcome = await self._post(connection_id, data, calls)
        if outcome == "sent":
            self.strikes.cleared(connection_id)
        elif outcome == "throttled" and self.strikes.failed(connection_id):
            await self._close_slow(connection_id, calls)
            return "gone"
        return "failed" if outcome == "throttled" else outcome

    async def _post(
        self, connection_id: str, data: bytes, calls: asyncio.Semaphore, session_id: str | None = None
    ) -> Outcome:
        try:
            async with calls:
                status = await self.client.post_to_connection(connection_id=connection_id, data=data)
        except Exception as error:  # noqa: BLE001  a timeout on one connection must not stop the others
            logger.warning("post_to_connection failed", extra={"connectionId": connection_id, "error": repr(error)})
            return "failed"
        if 200 <= status < 300:
            return "sent"
        if status == 410:
            await self._unregister(connection_id, session_id, gone=True)
            return "gone"
        logger.warning("post_to_connection failed", extra={"connectionId": connection_id, "status": status})
        return "throttled" if status == 429 else "failed"

    async def _close(self, connection_id: str, calls: asyncio.Semaphore) -> None:
        try:
            async with calls:
                status = await self.client.delete_connection(connection_id=connection_id)
        except Exception as error:  # noqa: BLE001  a timeout on one connection must not stop the others
            logger.warning("could not close connection", extra={"connectionId": connection_id, "error": repr(error)})
            return
        if status == 410:
            await self._unregister(connection_id, gone=True)
        elif not 200 <= status < 300:
            logger.warning("could not close connection", extra={"connectionId": connection_id, "status": status})

    async def _close_slow(self, connection_id: str, calls: asyncio.Semaphore) -> None:
        """A connection that failed `strikes.limit` posts in a row: closed, and unregistered now (its
        `$disconnect` may come late or never), so later fan-outs no longer wait on it."""
        logger.warning("closing a connection that keeps failing", extra={"connectionId": connection_id})
        await self._close(connection_id, calls)
        await self._unregister(connection_id)

    async def _unregister(self, connection_id: str, session_id: str | None = None, *, gone: bool = False) -> None:
        """Remove a connection API Gateway reported gone (`gone`: past its handshake only), or closed as a slow
        consumer (on a helper thread: the posts in flight go on); a table error is logged (the record's TTL is the
        backstop)."""
        registered_by = self.store.clock() - self.handshake_window_ms if gone else None

        def unregister() -> None:
            self.store.unregister_connection(connection_id, session_id=session_id, registered_by=registered_by)

        try:
            await asyncio.get_running_loop().run_in_executor(None, unregister)
        except Exception as error:  # noqa: BLE001  the other deliveries go on
            logger.warning(
                "could not unregister a gone connection", extra={"connectionId": connection_id, "error": repr(error)}
            )


@dataclass(frozen=True)
class StreamPosition:
    """Where a stream event is: its seq, in the session stream (`channel` None) or in that channel's."""

    seq: int
    channel: str | None

    def reaches(self, connection: ConnectionTarget, now_ms: int) -> bool:
        """Whether the event is sent to `connection` live: a channel's only to that channel's connections, and not
        while a recovery replays its stream to it (ConnectionTarget.takes)."""
        if self.channel is not None and self.channel != connection.channel:
            return False
        return connection.takes(self.seq, now_ms, channel=self.channel is not None)


def _stream_position(payload: dict[str, Any]) -> StreamPosition | None:
    """A payload's place in its stream (None: not a stream event)."""
    seq, channel = payload.get("seq"), payload.get("channel")
    return StreamPosition(seq, channel if isinstance(channel, str) else None) if isinstance(seq, int) else None


def _shardable(
    payloads: Sequence[dict[str, Any]],
    only: Callable[[ConnectionTarget], bool] | None,
    close: Callable[[ConnectionTarget], bool] | None,
) -> bool:
    """Whether the fan-out worker can take this send (ShardJob): at most its events, and a selection it can name."""
    return len(payloads) <= MAX_EVENTS_PER_JOB and only in (None, is_listener) and close in (None, is_listener)
