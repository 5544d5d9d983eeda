"""Channels against a broadcast to everyone: what one publish costs in messages and in the fan-out's DynamoDB reads,
for a session with 5 channels (a translated talk: a language each) and 100 listeners on each, through the real
handlers against moto.

Each row is one `POST /sessions/{id}/broadcasts` by the owner, measured after the same publish has warmed the
handlers. Listeners declare the current protocol (v=2: the events of one publish in one frame). Messages are
the posts the handlers made to listeners, each metered per 32 KB as API Gateway bills them; read units are
DynamoDB's published rules (aws_model/capacity.py) applied to the whole items each request read (moto's own
consumed capacity is a constant), the fan-out's being its Queries of the connections.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aws_model import prices
from aws_model.capacity import Units

from ._common import machine, prepare, table

SMOKE_ARGS = ["--per-channel", "3"]  # tests/bench: every benchmark runs once at a tiny size
CHANNELS = ("en", "es", "fr", "de", "pt")
CAPTION = {"text": "x" * 180}  # one translated caption line: about 200 bytes of `data`


Events = tuple[str | None, ...]  # one publish: its events, each to a channel (None: the whole session)


@dataclass(frozen=True)
class Scenario:
    """What a producer sends for one line of a talk: one or more publishes, in order."""

    name: str
    publishes: tuple[Events, ...]

    @property
    def events(self) -> int:
        return sum(len(p) for p in self.publishes)

    def to(self, channel: str) -> int:
        """The events a listener on `channel` must get: its channel's and every session-wide one."""
        return sum(p.count(None) + p.count(channel) for p in self.publishes)


SCENARIOS = (
    Scenario("1 event to one channel (es)", (("es",),)),
    Scenario("1 event to the whole session", ((None,),)),
    Scenario("a line in 5 languages, a publish per language, each to its channel", tuple((c,) for c in CHANNELS)),
    Scenario("the same, each to the whole session (no channels)", ((None,),) * len(CHANNELS)),
    Scenario("a line in 5 languages in one batch publish, each to its channel", (CHANNELS,)),
    Scenario("the same batch, all to the whole session (no channels)", ((None,) * len(CHANNELS),)),
)


@dataclass(frozen=True)
class Measured:
    scenario: Scenario
    reached: int  # listeners that got at least one event
    events: int  # events delivered, all listeners
    frames: tuple[int, ...]  # the byte size of every post to a listener
    queries: int
    fanout_units: Units  # the Queries (the connections read)
    units: Units  # every request of the publish

    @property
    def messages(self) -> int:
        return sum(prices.metered(size, prices.WEBSOCKET_MESSAGE_METER_BYTES) for size in self.frames)


class ChannelsBench:
    """A session with CHANNELS and `per_channel` listeners on each, on the handlers of bench/cost.py's CostBench."""

    def __init__(self, per_channel: int) -> None:
        from .cost import CostBench

        self.cost = CostBench()
        self.per_channel = per_channel
        store = self.cost.bench.rt.store
        session, _ = store.create_session(
            owner_id=OWNER, title="bench", source_language="en", max_listeners=per_channel * len(CHANNELS),
            channels=CHANNELS,
        )  # fmt: skip
        self.session_id = session.sessionId
        self.channel_of = self._add_listeners()

    def _add_listeners(self) -> dict[str, str]:
        """Set-up, not measured: the items `$connect` writes for each listener (on its channel), batch-written
        through the codec, and the counts (bench/requests.py's Bench.add_listeners, on channels)."""
        from session_protocol import versions
        from session_schema import codec, keys
        from session_schema.models import Connection

        from tests.support.ws_events import new_connection_id

        bench = self.cost.bench
        now = bench.rt.store.clock()
        channel_of: dict[str, str] = {}
        items = []
        for channel in CHANNELS:
            for _ in range(self.per_channel):
                connection = Connection(
                    connectionId=new_connection_id(), sessionId=self.session_id, role="listener", connectedAt=now,
                    expiresAt=now // 1000 + 3600, protocolVersion=versions.CURRENT, channel=channel, partition=0,
                )  # fmt: skip
                channel_of[connection.connectionId] = channel
                items += [codec.encode(connection.entry()), codec.encode(connection)]
        table_name = self.cost.table_name
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
            bench.ddb.batch_write_item(RequestItems={table_name: batch})
        bench.ddb.update_item(
            TableName=table_name,
            Key=codec.serialize_key(keys.session_key(self.session_id)),
            UpdateExpression="SET channelCounts = :counts, listenerCount = :all",
            ExpressionAttributeValues={
                ":counts": codec.value(dict.fromkeys(CHANNELS, self.per_channel)),
                ":all": codec.value(len(channel_of)),
            },
        )
        return channel_of

    def measure(self, scenario: Scenario) -> Measured:
        for events in scenario.publishes:  # warms the handlers (first-call imports and caches)
            self._publish(events)
        recorder, meter = self.cost.recorder, self.cost.meter
        recorder.frames.clear()
        with meter.metering():
            for events in scenario.publishes:
                self._publish(events)
            units, fanout_units = meter.units, meter.by_operation.get("Query", Units())
            queries = meter.requests_by_operation["Query"]
        received: Counter[str] = Counter()
        frames = []
        for connection_id, body in recorder.frames:
            channel = self.channel_of.get(connection_id)
            if channel is None:
                continue  # not a listener's (none here: the publisher is on HTTP)
            carried = _events(json.loads(body))
            wrong = [e.get("channel") for e in carried if e.get("channel") not in (None, channel)]
            assert not wrong, f"a listener on {channel} got events of {wrong}"
            received[connection_id] += len(carried)
            frames.append(len(body))
        self._check(scenario, received)
        return Measured(
            scenario=scenario,
            reached=len(received),
            events=sum(received.values()),
            frames=tuple(frames),
            queries=queries,
            fanout_units=fanout_units,
            units=units,
        )

    def _publish(self, events: Events) -> None:
        body = {"events": [{"data": CAPTION, **({"channel": c} if c else {})} for c in events]}
        answer = self.cost.bench.http("POST", f"/sessions/{self.session_id}/broadcasts", user=OWNER, body=body)
        assert answer.status == 201, answer.raw_body

    def _check(self, scenario: Scenario, received: Counter[str]) -> None:
        """Each listener got exactly its channel's events and every session-wide one, once."""
        for connection_id, channel in self.channel_of.items():
            expected = scenario.to(channel)
            assert received[connection_id] == expected, (scenario.name, channel, received[connection_id], expected)


def _events(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream events a posted frame carries: a `batch` frame several, a `broadcast` one."""
    if frame.get("type") == "batch":
        return list(frame["events"])
    return [frame] if frame.get("type") == "broadcast" else []


OWNER = "bench-owner"


def report(results: list[Measured], listeners: int, seconds: float) -> str:
    rows = []
    for m in results:
        events = m.scenario.events
        rows.append(
            [
                m.scenario.name,
                events,
                m.reached,
                f"{m.events / m.reached:g}" if m.reached else "-",
                m.messages,
                f"{m.messages / listeners / events:.2f}",
                f"{sum(m.frames) / listeners / 1024:.2f}",
                f"{m.queries} / {m.fanout_units.read:g}",
                f"{m.units.read:g} / {m.units.write:g}",
            ]
        )
    return table(
        f"Channels: a {len(CHANNELS)}-channel session, {listeners // len(CHANNELS)} listeners per channel, against "
        f"the same events to all {listeners}",
        [
            "what the producer sends",
            "events",
            "listeners reached",
            "events per listener reached",
            "API GW messages",
            "messages per listener per event",
            "KB per listener",
            "fan-out Queries / RCU",
            "RCU / WCU (all requests)",
        ],
        rows,
        [
            f"{listeners} listeners on protocol v2 (the events of one publish to a connection in one frame), each "
            "on one channel; every publish one `POST /sessions/{id}/broadcasts` by the owner, events of about 200 B",
            "messages: the handlers' posts to listeners, each metered per 32 KB as API Gateway bills them; per "
            "listener per event: over every listener of the session and every event sent",
            "fan-out RCU: DynamoDB's rules (aws_model/capacity.py) on the whole items read by the fan-out's "
            "strongly consistent Queries of the connections (a channel's: its own key range only; the whole "
            "session's also the range of connections registered before channels); all requests add each "
            "publish's session read and numbering transaction",
            f"measured in {seconds:.0f} s on {machine()}",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench channels")
    parser.add_argument("--per-channel", type=int, default=100, help="listeners on each of the 5 channels")
    args = parser.parse_args(argv)
    prepare()
    import io
    from contextlib import redirect_stdout

    from moto import mock_aws

    from local.dynamodb.moto_json import answer_with_json

    answer_with_json()  # as the local stack's moto answers (moto's generic serializer is slow)
    started = time.monotonic()
    with mock_aws(), redirect_stdout(io.StringIO()):  # Powertools' EMF lines (cold-start metric) go to stdout
        bench = ChannelsBench(args.per_channel)
        results = [bench.measure(scenario) for scenario in SCENARIOS]
    print(report(results, args.per_channel * len(CHANNELS), time.monotonic() - started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
