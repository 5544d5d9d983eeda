"""Dollars per million delivered events: what each publish makes AWS do, measured through the real handlers
against moto, priced at list prices (aws_model/prices.py), beside AWS AppSync Events and Ably.

For each declared workload (listeners, events per publish, events per second, payload size, channels) a
session gets its listeners, then one publish is measured after a first one has warmed the handlers:
- API Gateway messages: every frame the handlers post (counted at the management API, so a frame that
  carries several events counts once), metered per 32 KB, plus the producer's own messages; connection
  minutes for every open connection over the time the workload takes to publish those events;
- Lambda: invocations, and billed duration at the connection function's declared memory from the handlers'
  measured CPU (moto's share taken out) plus declared waits for DynamoDB and management API round trips;
- DynamoDB: read and write units by DynamoDB's published rules (aws_model/capacity.py) from the whole items
  each request touched (moto's consumed capacity is a constant).
A publish is one `POST /sessions/{id}/broadcasts` with every event when the HTTP API has that route, and
otherwise one WebSocket `broadcast` per event: the bench picks up a batch publish when it exists.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, replace
from typing import Any

from aws_model import prices
from aws_model.capacity import KeySchema, Units

from ._common import machine, prepare, table

SMOKE_ARGS = ["--max-listeners", "3"]  # tests/bench: every benchmark runs once at a tiny size
MIB = 1024 * 1024


@dataclass(frozen=True)
class Workload:
    name: str
    listeners: int
    events_per_publish: int
    events_per_second: float  # the producer's rate: how long the connections stay open per publish
    payload_bytes: int  # the JSON size of each event's `data`
    channels: int = 1  # every listener on the session stream: a channel fan-out reads and posts to fewer


WORKLOADS: tuple[Workload, ...] = (
    Workload("chat", 10, 1, 0.5, 200),
    Workload("live updates", 100, 1, 1, 200),
    Workload("live updates", 1000, 1, 1, 200),
    Workload("captions, 5 languages per burst", 1000, 5, 5, 200),  # issue 29's goal: <= $0.30 per million
)
GOAL_WORKLOAD = WORKLOADS[-1]
GOAL_DOLLARS_PER_MILLION = 0.30


@dataclass(frozen=True)
class Assumptions:
    """What the bench cannot measure on moto, declared and printed."""

    memory_mb: int  # the connection function's declared memory (session_schema/functions.py)
    post_concurrency: int  # management API calls in flight per fan-out (FANOUT_CONCURRENCY)
    dynamodb_round_trip_ms: float = 5.0  # one DynamoDB request from Lambda, same Region, waited in sequence
    post_round_trip_ms: float = 10.0  # one @connections post, `post_concurrency` of them overlapping
    post_client_cpu_us: float = 45.0  # signing and sending a post (moto's stand-in skips both)


@dataclass(frozen=True)
class Measurement:
    """What one publish of a workload made AWS do."""

    deliveries: int  # events that reached listeners
    frames: tuple[int, ...]  # the byte size of every post to a connection
    producer_messages: int  # WebSocket messages from and to the producer (its actions and their answers)
    http_requests: int
    invocations: int
    handler_cpu_seconds: float
    dynamodb_requests: int
    units: Units
    connections: int  # open while the workload runs: the listeners, and the producer on WebSocket

    @property
    def api_gateway_messages(self) -> int:
        metered = sum(prices.metered(size, prices.WEBSOCKET_MESSAGE_METER_BYTES) for size in self.frames)
        return metered + self.producer_messages


@dataclass(frozen=True)
class Dollars:
    """Dollars per million delivered events, by what they pay for."""

    messages: float
    connection_minutes: float
    http_requests: float
    lambda_: float
    dynamodb: float

    @property
    def total(self) -> float:
        return self.messages + self.connection_minutes + self.http_requests + self.lambda_ + self.dynamodb


def billed_seconds(m: Measurement, a: Assumptions) -> float:
    """Billed Lambda duration of one publish: the handlers' CPU and the posts' client CPU, then the waits for
    each DynamoDB request in turn and for the posts `post_concurrency` at a time (no overlap assumed: an
    upper bound), each invocation rounded up to 1 ms."""
    posts = len(m.frames)
    cpu = m.handler_cpu_seconds + posts * a.post_client_cpu_us / 1e6
    waits = m.dynamodb_requests * a.dynamodb_round_trip_ms / 1e3
    waits += math.ceil(posts / a.post_concurrency) * a.post_round_trip_ms / 1e3
    per_invocation = (cpu + waits) / m.invocations
    return m.invocations * math.ceil(per_invocation * 1e3) / 1e3


def connection_minutes(m: Measurement, w: Workload) -> float:
    """Connection minutes one publish accounts for: every connection, for as long as the producer takes to
    publish that many events at its rate."""
    return m.connections * w.events_per_publish / w.events_per_second / 60


def this_stack(m: Measurement, w: Workload, a: Assumptions) -> Dollars:
    per_million = prices.MILLION / m.deliveries
    gb_seconds = billed_seconds(m, a) * a.memory_mb / 1024
    return Dollars(
        messages=m.api_gateway_messages * prices.WEBSOCKET_MESSAGE.each * per_million,
        connection_minutes=connection_minutes(m, w) * prices.WEBSOCKET_CONNECTION_MINUTE.each * per_million,
        http_requests=m.http_requests * prices.HTTP_API_REQUEST.each * per_million,
        lambda_=(m.invocations * prices.LAMBDA_REQUEST.each + gb_seconds * prices.LAMBDA_ARM_GB_SECOND.each)
        * per_million,
        dynamodb=(m.units.read * prices.DYNAMODB_READ_UNIT.each + m.units.write * prices.DYNAMODB_WRITE_UNIT.each)
        * per_million,
    )


def appsync_events(w: Workload) -> float:
    """AppSync Events, dollars per million deliveries: each event is one publish operation and one operation
    per subscriber, each metered per 5 KB; every listener's connection minutes."""
    listeners = w.listeners
    operations = (1 + listeners) * prices.metered(w.payload_bytes, prices.APPSYNC_EVENTS_OPERATION_METER_BYTES)
    minutes = listeners / w.events_per_second / 60
    per_event = (
        operations * prices.APPSYNC_EVENTS_OPERATION.each + minutes * prices.APPSYNC_EVENTS_CONNECTION_MINUTE.each
    )
    return per_event / listeners * prices.MILLION


def ably(w: Workload) -> float:
    """Ably, dollars per million deliveries: each event is one message published and one per subscriber."""
    return (1 + w.listeners) * prices.ABLY_MESSAGE.each / w.listeners * prices.MILLION


# -- measuring through the handlers ---------------------------------------------------------------------


class CostBench:
    """The handlers on moto (bench/requests.py's Bench), with every post recorded and units metered."""

    def __init__(self) -> None:
        import boto3

        from session_schema.keys import TABLE

        from ._capacity_meter import CapacityMeter
        from .requests import TABLE_NAME, Bench

        self.bench = Bench()
        self.recorder = _frame_recorder()
        self.bench.rt.management = self.bench.rt.connections = self.recorder
        schema = KeySchema(
            TABLE.partition_key, TABLE.sort_key, tuple((i.partition_key, i.sort_key) for i in TABLE.indexes)
        )
        reader = boto3.client("dynamodb", region_name="us-east-1")
        self.meter = CapacityMeter(self.bench.ddb, reader, schema)
        self.table_name = TABLE_NAME
        self._batch_route: bool | None = None

    def measure(self, w: Workload) -> Measurement:
        from session_protocol import versions

        from .requests import OWNER

        session_id = self.bench.session(max_listeners=w.listeners)
        # Listeners on today's clients, which declare the current protocol (v=2: several events in one frame).
        self.bench.add_listeners(session_id, w.listeners, protocol_version=versions.CURRENT)
        speaker = self.bench.connect(session_id, user=OWNER)
        data = {"text": "x" * max(0, w.payload_bytes - len('{"text":""}'))}
        self._publish(session_id, speaker, w, data)  # warms the handlers (first-call imports and caches)
        self.recorder.frames.clear()
        with self.meter.metering():
            started = time.process_time()
            producer_messages, http_requests, invocations = self._publish(session_id, speaker, w, data)
            cpu = time.process_time() - started - self.meter.excluded_cpu
            units, requests = self.meter.units, self.meter.requests
        frames = [(connection, len(body), body) for connection, body in self.recorder.frames]
        deliveries = sum(_events_in(body) for connection, _, body in frames if connection != speaker)
        assert deliveries == w.listeners * w.events_per_publish, (deliveries, w)  # every listener, every event
        return Measurement(
            deliveries=deliveries,
            frames=tuple(size for _, size, _ in frames),
            producer_messages=producer_messages,
            http_requests=http_requests,
            invocations=invocations,
            handler_cpu_seconds=cpu,
            dynamodb_requests=requests,
            units=units,
            connections=w.listeners + (0 if http_requests else 1),
        )

    def publish_path(self) -> str:
        return "HTTP batch publish" if self._batch_route else "WebSocket broadcast per event"

    def _publish(self, session_id: str, speaker: str, w: Workload, data: dict[str, str]) -> tuple[int, int, int]:
        """One publish of `w.events_per_publish` events: (producer WebSocket messages, HTTP requests,
        invocations). The events are built before the clock starts: only the handlers run inside it."""
        from tests.support.http_events import FakeLambdaContext, answer_of, http_event
        from tests.support.ws_events import message_event

        from .requests import OWNER

        if self._batch_route is not False:
            body = {"events": [{"data": data} for _ in range(w.events_per_publish)]}
            event = http_event("POST", f"/sessions/{session_id}/broadcasts", user=OWNER, body=body)
            answer = answer_of(self.bench._http(event, FakeLambdaContext()))
            if answer.status != 404 or self._batch_route:
                assert answer.status == 201, answer.raw_body
                self._batch_route = True
                return 0, 1, 1
            self._batch_route = False  # no such route yet: one WebSocket broadcast per event
        events = [message_event(speaker, {"action": "broadcast", "data": data}) for _ in range(w.events_per_publish)]
        for event in events:
            result = self.bench._ws(event, None)
            assert json.loads(result["body"]).get("type") == "broadcastSent", result
        return 2 * len(events), 0, len(events)  # each action in, its answer out


def _events_in(frame: bytes) -> int:
    """Events a posted frame carries: a `batch` frame several, any other frame one stream event or none."""
    body = json.loads(frame)
    if body.get("type") == "batch":
        return len(body["events"])
    return 1 if body.get("type") == "broadcast" else 0


def _frame_recorder() -> Any:
    from tests.support.fakes import FakeManagementApi

    class FrameRecorder(FakeManagementApi):  # type: ignore[misc]
        """Records each post's bytes, doing no more per post than appending them (its CPU is the handlers')."""

        def __init__(self) -> None:
            super().__init__()
            self.frames: list[tuple[str, bytes]] = []

        async def post_to_connection(self, *, connection_id: str, data: bytes) -> int:
            self.frames.append((connection_id, data))
            return 200

    return FrameRecorder()


# -- report ------------------------------------------------------------------------------------------------


def _label(w: Workload) -> str:
    return f"{w.name}: {w.listeners:,} listeners, {w.events_per_publish}/publish"


def report(results: list[tuple[Workload, Measurement]], a: Assumptions, path: str, seconds: float) -> str:
    counts, dollars = [], []
    for w, m in results:
        billed_ms = billed_seconds(m, a) * 1e3 / m.invocations
        counts.append(
            [
                _label(w),
                f"{w.events_per_second:g}/s, {w.payload_bytes} B, {w.channels} channel(s)",
                m.deliveries,
                len(m.frames),
                m.api_gateway_messages,
                m.invocations,
                f"{m.handler_cpu_seconds * 1e3 / m.invocations:.1f} / {billed_ms:.0f}",
                m.dynamodb_requests,
                f"{m.units.read:g} / {m.units.write:g}",
            ]
        )
        ours = this_stack(m, w, a)
        dollars.append(
            [
                _label(w),
                f"{ours.messages:.3f}",
                f"{ours.connection_minutes:.4f}",
                f"{ours.lambda_:.4f}",
                f"{ours.dynamodb:.4f}",
                f"{ours.http_requests:.4f}",
                f"**{ours.total:.3f}**",
                f"{appsync_events(w):.3f}",
                f"{ably(w):.3f}",
            ]
        )
    goal = [(w, m) for w, m in results if w == GOAL_WORKLOAD]
    goal_note = []
    if goal:
        w, m = goal[0]
        total = this_stack(m, w, a).total
        verdict = "met" if total <= GOAL_DOLLARS_PER_MILLION and total * 3 <= appsync_events(w) else "not met"
        goal_note = [
            f"goal (issue 29): {_label(w)} at most ${GOAL_DOLLARS_PER_MILLION:.2f} per million delivered events "
            f"and 3x below AppSync Events: ${total:.3f} against ${appsync_events(w):.3f}, {verdict}"
        ]
    return "\n".join(
        [
            table(
                "What one publish makes AWS do (real handlers, moto)",
                [
                    "workload",
                    "rate, payload",
                    "deliveries",
                    "frames posted",
                    "API GW messages",
                    "Lambda invocations",
                    "CPU / billed ms per invocation",
                    "DynamoDB requests",
                    "RCU / WCU",
                ],
                counts,
                [
                    f"publish path: {path}; frames are the posts the handlers made, each metered per 32 KB; API "
                    "GW messages add the producer's own WebSocket messages (each action and its answer)",
                    "RCU / WCU: DynamoDB's published rules (aws_model/capacity.py) applied to the whole items "
                    "each request read or wrote, indexes included; moto's own consumed capacity is a constant",
                    f"CPU: the handlers' process CPU over the publish, moto's and the meter's taken out; billed: "
                    f"+ {a.post_client_cpu_us:g} us of client CPU per post (moto's stand-in neither signs nor "
                    f"sends), + {a.dynamodb_round_trip_ms:g} ms per DynamoDB request in turn, + "
                    f"{a.post_round_trip_ms:g} ms per {a.post_concurrency} posts in flight, at "
                    f"{a.memory_mb} MB arm64 (declared assumptions, no overlap: an upper bound)",
                    f"measured in {seconds:.0f} s on {machine()}",
                ],
            ),
            table(
                "Dollars per million delivered events",
                [
                    "workload",
                    "API GW messages",
                    "connection minutes",
                    "Lambda",
                    "DynamoDB",
                    "HTTP API",
                    "this stack",
                    "AppSync Events",
                    "Ably",
                ],
                dollars,
                [
                    "list prices, US East, first tier, no free tier (table below); connection minutes: every "
                    "connection for as long as the producer takes to publish the events at its rate",
                    "AppSync Events: one operation for the publish and one per subscriber per event (5 KB "
                    "metering), listeners' connection minutes; Ably: one message published plus one per "
                    "subscriber, connections (package-billed) left out",
                    *goal_note,
                ],
            ),
            table(
                "List prices used",
                ["price", "dollars", "per", "source", "checked"],
                [
                    [p.name, f"{p.dollars:g}", f"{p.per:,} {p.unit}", p.source, p.checked.isoformat()]
                    for p in prices.PRICES
                ],
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cost")
    parser.add_argument("--max-listeners", type=int, default=None, help="cap every workload's listeners (tiny runs)")
    args = parser.parse_args(argv)
    workloads = [
        replace(w, listeners=min(w.listeners, args.max_listeners)) if args.max_listeners else w for w in WORKLOADS
    ]
    prepare()
    import io
    from contextlib import redirect_stdout

    from moto import mock_aws

    from local.dynamodb.moto_json import answer_with_json

    answer_with_json()  # as the local stack's moto answers (moto's generic serializer is slow)

    started = time.monotonic()
    with mock_aws(), redirect_stdout(io.StringIO()):  # Powertools' EMF lines (cold-start metric) go to stdout
        from session_schema.functions import CONNECTION_FUNCTION, FUNCTIONS

        bench = CostBench()
        results = [(w, bench.measure(w)) for w in workloads]
        memory = next(f.memory_mb for f in FUNCTIONS if f.name == CONNECTION_FUNCTION)
        assumptions = Assumptions(memory_mb=memory, post_concurrency=bench.bench.rt.settings.fanout_concurrency)
    print(report(results, assumptions, bench.publish_path(), time.monotonic() - started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
