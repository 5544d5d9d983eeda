"""bench keynote's real phase: a join storm of real WebSocket listeners (the Python client) into one keynote-sized
session of the local stack with AWS's limits on, scaled (`LocalStack(aws_limits=AwsLimits(scale))`, as
tests/e2e/test_aws_limits.py starts it), then one broadcast to all of them, then all leave.

Every listener connects at once with the client's own backoff (no first-join spread: the clients spread
reconnects after a drop, while a keynote's opening is everyone at once). Measured: the time until the last one
joined, the API Gateway 429s the gateway counted (its own counter, as the test reads it), the session's
listenerCount after the joins and after the leaves, and the broadcast's delivery to each listener. DynamoDB's
throttles are retried inside the handlers and counted only in the embedded DynamoDB's own process, which the
stack does not expose: not measured here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import _common

# The largest maxListeners the local stack's default settings allow (MAX_LISTENERS_LIMIT): seat shards and
# connection partitions as the store sizes them for it (session_schema/layout.py).
MAX_LISTENERS = 10_000
JOIN_TIMEOUT_SECONDS = 600.0
DELIVERY_TIMEOUT_SECONDS = 60.0


@dataclass
class RealRun:
    listeners: int
    scale: float
    gateway_rate: float  # new WebSocket connections a second the gateway admits at this scale
    seat_shards: int
    partitions: int
    joined_seconds: float = 0.0  # from the storm's start to the last listener's `joined`
    gateway_429s: int = 0
    count_after_joins: int = -1
    delivered_once: int = 0  # listeners handed the broadcast exactly once
    latencies_ms: list[float] = field(default_factory=list)
    left_seconds: float = 0.0  # from the leaves' start to listenerCount settled
    count_after_leaves: int = -1
    count_after_sweep: int = -1  # after one sweep run, when leaves were lost (-1: not needed)
    lambda_throttles: Counter[str] = field(default_factory=Counter)  # by route: invocations Lambda refused
    client_errors: Counter[str] = field(default_factory=Counter)  # by code: retried failures besides the 429s
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    problems: list[str] = field(default_factory=list)

    @property
    def joins_per_second(self) -> float:
        return self.listeners / self.joined_seconds if self.joined_seconds else float("nan")


def run(listeners: int, scale: float) -> RealRun:
    """The phase, against a stack of its own (started and stopped here)."""
    from session_schema.layout import connection_partitions_for, seat_shards_for

    from local.aws_limits import AwsLimits
    from tests.support.local_stack import create_session, running_local_stack

    limits = AwsLimits(scale)
    result = RealRun(
        listeners,
        scale,
        limits.new_connections_per_second,
        seat_shards_for(MAX_LISTENERS),
        connection_partitions_for(MAX_LISTENERS),
    )
    load_before = os.getloadavg()[0]
    # No log line per $connect (it would time the terminal); the sweep, run only by this phase, may free any
    # seat a lost `$disconnect` left (no grace: every listener has left by then).
    settings = {"POWERTOOLS_LOG_LEVEL": "WARNING", "GHOST_GRACE_SECONDS": "0"}
    with running_local_stack(aws_limits=limits, settings_overrides=settings) as stack, _lambda_throttles(result):
        owner = stack.mint("keynote-speaker", ttl_seconds=7200)
        session_id = create_session(stack, owner, maxListeners=MAX_LISTENERS)
        asyncio.run(_storm(stack, session_id, owner, result))
    result.load = (load_before, os.getloadavg()[0])
    return result


@contextmanager
def _lambda_throttles(result: RealRun) -> Iterator[None]:
    """Count the invocations the stack's Lambda refused (a function's reserved concurrency or the Region's), by
    route, from the WebSocket gateway's error log (local/apigw/ws_gateway.py: one record per failed route), and
    keep those records off the terminal: the table shows them."""
    from local.lambda_service.lambda_pools import Throttled

    def count(record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if not any(isinstance(arg, Throttled) for arg in args):
            return True
        route = str(record.msg).split(" failed", 1)[0]  # "$connect", "$disconnect" or "route %s"
        result.lambda_throttles[route % args[0] if "%s" in route else route] += 1
        return False

    gateway = logging.getLogger("local.ws")
    gateway.addFilter(count)
    try:
        yield
    finally:
        gateway.removeFilter(count)


async def _storm(stack: Any, session_id: str, owner: str, result: RealRun) -> None:
    from live_sessions_client import LiveSession, RefusedError

    from tests.support.listeners import RecordingListener
    from tests.support.local_stack import listener_count, settled_listener_count

    ws_url = stack.urls.ws
    crowd = [RecordingListener(ws_url, session_id) for _ in range(result.listeners)]
    refused_before = stack._ws.connects_throttled  # noqa: SLF001 - the gateway's own count, as the e2e test reads it
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(listener.connect() for listener in crowd)), JOIN_TIMEOUT_SECONDS)
    result.joined_seconds = time.monotonic() - started
    result.gateway_429s = stack._ws.connects_throttled - refused_before  # noqa: SLF001
    for error in (error for listener in crowd for error in listener.errors()):
        if isinstance(error, RefusedError) and error.code == "RATE_LIMITED":  # DynamoDB's: the handlers' to retry
            result.problems.append(f"a client saw DynamoDB's throttle: {error}")
        elif not (isinstance(error, RefusedError) and error.status == 429):
            result.client_errors[getattr(error, "code", type(error).__name__)] += 1
    result.count_after_joins = await asyncio.to_thread(listener_count, stack, session_id, owner)

    readers = [asyncio.create_task(listener.collect()) for listener in crowd]
    async with LiveSession(ws_url, session_id, token=owner, keepalive=None) as speaker:
        sent_at = time.monotonic()
        seq = (await speaker.broadcast("the keynote starts"))["seq"]
        deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
        while any(not listener.events for listener in crowd) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    for listener in crowd:
        got = [at for event, at in zip(listener.events, listener.arrivals, strict=True) if event["seq"] == seq]
        result.delivered_once += len(got) == 1
        result.latencies_ms += [(at - sent_at) * 1000 for at in got[:1]]

    queued_throttles = stack.disconnect_queue.throttled
    started = time.monotonic()
    await asyncio.gather(*(listener.close() for listener in crowd))
    await asyncio.gather(*readers, return_exceptions=True)
    result.count_after_leaves = await asyncio.to_thread(settled_listener_count, stack, session_id, owner, 0)
    result.left_seconds = time.monotonic() - started
    # A throttled `$disconnect` waits in the disconnect queue, its delivery retried (local/sqs/queue.py): counted there.
    result.lambda_throttles["$disconnect (queued: retried)"] += stack.disconnect_queue.throttled - queued_throttles
    if result.count_after_leaves:  # leaves lost (a `$disconnect` API Gateway could not run): the sweep's to free
        await asyncio.to_thread(stack.run_sweep)
        result.count_after_sweep = await asyncio.to_thread(listener_count, stack, session_id, owner)

    if result.count_after_joins != result.listeners:
        result.problems.append(f"listenerCount {result.count_after_joins} after {result.listeners} joins")
    if result.delivered_once != result.listeners:
        result.problems.append(f"{result.delivered_once} of {result.listeners} listeners got the broadcast once")
    if result.count_after_leaves != 0 and result.count_after_sweep != 0:
        result.problems.append(f"listenerCount {result.count_after_sweep} after every listener left and a sweep")


def table(real: RealRun, simulated_seconds: float, simulated_refusals: int, storm_size: int) -> str:
    """The phase's table: each figure measured, and the simulation's for the same storm at this scale."""
    p50, p99 = _common.percentile(real.latencies_ms, 50), _common.percentile(real.latencies_ms, 99)
    rows: list[list[object]] = [
        ["time until all joined, s", real.joined_seconds, simulated_seconds],
        ["joins/s admitted", real.joins_per_second, real.listeners / simulated_seconds if simulated_seconds else "-"],
        ["API Gateway 429s (the gateway's count)", real.gateway_429s, simulated_refusals],
        ["DynamoDB throttles retried in the handlers", "not measured", "-"],
        ["listenerCount after the joins", real.count_after_joins, real.listeners],
        ["listeners that got the broadcast exactly once", real.delivered_once, real.listeners],
        ["broadcast latency p50 / p99, ms", f"{p50:,.0f} / {p99:,.0f}", "-"],
        ["Lambda throttles (ConnectionFunction's reserved concurrency)", _listed(real.lambda_throttles), 0],
        ["failures the clients retried besides the 429s", _listed(real.client_errors), 0],
        ["time until listenerCount settled after all left, s", real.left_seconds, "-"],
        ["listenerCount after the leaves", real.count_after_leaves, 0],
        ["listenerCount after one sweep", "-" if real.count_after_sweep < 0 else real.count_after_sweep, 0],
    ]
    equivalent = real.listeners / real.scale
    notes = [
        f"the local stack with AWS's limits at scale {real.scale:g} (`serve --aws-limits --aws-limits-scale "
        f"{real.scale:g}`): {real.gateway_rate:g} new WebSocket connections/s, DynamoDB's per-partition and "
        f"per-item units a second times {real.scale:g}; one session of maxListeners {MAX_LISTENERS:,} "
        f"({real.seat_shards} seat shards, {real.partitions} connection partitions); {_common.machine()}; "
        f"load average {real.load[0]:.1f} -> {real.load[1]:.1f}",
        "every listener connects at once (the Python client, its default backoff: 0.5 s doubling to 30 s, half "
        "jittered; no first-join spread); API Gateway's connection-rate 429 is retried by the clients, DynamoDB's "
        "throttles inside the handlers (no client sees one; the embedded DynamoDB counts them in its own process, "
        "which the stack does not expose)",
        "simulated: the storm model above (a token bucket at the gateway's rate, refused attempts retried with "
        "the same backoff) for this storm at this scale; it counts refused attempts, the gateway counts 429s",
        f"the same limits model as the simulated {storm_size:,}-listener storm, scaled: every rate times "
        f"{real.scale:g}, so {real.listeners} listeners here drain as about {equivalent:,.0f} would at AWS's "
        "default quota (the time to drain is listeners / rate; the client's backoff steps are not scaled)",
        "latency: from the speaker's send to each listener's receipt, all listeners in this process",
        "Lambda throttles: invocations the stack's Lambda refused, by route (its concurrency is not scaled: "
        "`--aws-limits-concurrency-scale` 1); a throttled `$connect` is API Gateway's 500 to the client (retried), "
        "a throttled route's request is OUTCOME_UNKNOWN to the client (it reconnects); a `$disconnect` goes to the "
        "disconnect queue (infra/disconnect_queue.py), whose mapping retries a throttled delivery, so none is lost "
        "(the sweep row, run only if the count is not 0 after the leaves)",
    ]
    if real.problems:
        notes.append("**problems**: " + "; ".join(real.problems))
    return _common.table(
        f"Real listeners: a join storm of {real.listeners} into one keynote session, AWS's limits on "
        f"(scale {real.scale:g})",
        ["measure", "measured", "simulated (same model, scaled)"],
        rows,
        notes,
    )


def _listed(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "0"
