"""Dispatching a large fan-out (session_runtime/shards.py), through the WebSocket handler on moto: past the
threshold the caller serves shard 0 and hands every other shard to the worker function as an asynchronous
invoke, answering the broadcaster without waiting for them; an invoke that fails is counted, logged, and
its shard served by the caller; below the threshold nothing is invoked. Every fan-out to a whole session
is sharded alike: broadcasts, status changes and ends, messages (HTTP and WebSocket) and artifact changes."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from session_runtime.metric_names import FANOUT_DISPATCH_FAILED
from session_runtime.shards import ShardDispatcher, shard_count

from tests.support.handlers import Live

WORKER = "FanoutWorkerFunction"


class LambdaClient:
    """boto3 `lambda` client stand-in: keeps each asynchronous invoke (none is run until the test says)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.invokes: list[dict[str, Any]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        if self.fail:
            raise ConnectionError("TooManyRequestsException")
        self.invokes.append({"function": FunctionName, "type": InvocationType, "job": json.loads(Payload)})
        return {"StatusCode": 202}


@pytest.fixture
def live(ws) -> Live:
    session = ws.create_session(owner="owner-1", max_listeners=100)
    return Live(session.sessionId, "owner-1", ws.connected(session.sessionId, user="owner-1"))


def _shard_by(ws, client: LambdaClient, threshold: int) -> None:
    ws.runtime.fanout.dispatcher = ShardDispatcher(WORKER, threshold, client=lambda: client)


def _broadcasts(ws, connections) -> Counter[str]:
    return Counter(cid for cid in connections for m in ws.received(cid, "broadcast"))


def test_shard_count_follows_the_threshold():
    assert [shard_count(n, 5) for n in (0, 5, 6, 10, 11)] == [1, 1, 2, 2, 3]
    assert shard_count(10**6, 1) == 64  # at most one shard per first character of a connection ID


def test_a_large_broadcast_serves_shard_zero_and_hands_the_others_to_the_worker(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(12)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=5)
    answer = ws.act(live.speaker, "broadcast", data={"caption": "hi"})
    assert answer["type"] == "broadcastSent"  # answered before any remote shard ran
    assert [(i["function"], i["type"], i["job"]["shard"]) for i in client.invokes] == [
        (WORKER, "Event", 1),
        (WORKER, "Event", 2),
    ]
    job = client.invokes[0]["job"]
    assert job["shards"] == 3 and job["listenersOnly"] is True and job["payloads"][0]["seq"] == answer["seq"]
    here = _broadcasts(ws, listeners)
    # `delivered` counts the listeners reached before the answer: this invocation's own shard.
    assert answer["delivered"] == sum(here.values()) < len(listeners)
    for invoke in client.invokes:  # what Lambda does a moment later
        ws.fanout_worker(invoke["job"])
    everyone = _broadcasts(ws, listeners)
    assert set(everyone) == set(listeners) and set(everyone.values()) == {1}  # each listener exactly once
    assert ws.received(live.speaker, "broadcast") == []  # listeners only, in every shard


def test_an_end_is_sharded_too_and_every_listener_gets_both_events_in_order_then_is_closed(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(10)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=4)
    ws.act(live.speaker, "end")
    assert len(client.invokes) == 2  # 11 connections: 3 shards
    for invoke in client.invokes:
        ws.fanout_worker(invoke["job"])
    for listener in listeners:
        assert ws.management.types_sent_to(listener)[-2:] == ["sessionUpdated", "sessionEnded"]
        seqs = [m["seq"] for m in ws.received(listener) if "seq" in m]
        assert seqs == sorted(seqs)
    assert sorted(ws.management.closed) == sorted(listeners)


def test_a_failed_invoke_is_counted_and_logged_and_its_shard_served_by_the_caller(ws, live, monkeypatch, logs):
    import session_runtime.shards as shards

    counted: list[str] = []
    monkeypatch.setattr(shards.metrics, "add_metric", lambda name, **_: counted.append(name))
    listeners = [ws.connected(live.session_id) for _ in range(12)]
    _shard_by(ws, LambdaClient(fail=True), threshold=5)
    ws.act(live.speaker, "broadcast", data=1)
    everyone = _broadcasts(ws, listeners)
    assert set(everyone) == set(listeners) and set(everyone.values()) == {1}  # no worker ran: none lost
    assert counted.count(FANOUT_DISPATCH_FAILED) == 2
    assert sum(1 for line in logs.lines if line.get("message", "").startswith("could not hand a fan-out shard")) == 2


def test_below_the_threshold_nothing_is_invoked(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(4)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=5)
    ws.act(live.speaker, "broadcast", data=1)
    assert client.invokes == []
    assert set(_broadcasts(ws, listeners)) == set(listeners)


def test_at_the_threshold_a_broadcast_is_one_invocation_and_a_pause_two_shards(ws, live):
    """The threshold is strict and each fan-out is sized by who gets it (docs/architecture.md, Dispatch): a
    broadcast, to the listeners only, by `listenerCount`; a pause, to the speaker too, by `listenerCount + 1`."""
    listeners = [ws.connected(live.session_id) for _ in range(5)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=5)
    ws.act(live.speaker, "broadcast", data=1)
    assert client.invokes == []  # 5 listeners: not more than 5
    assert set(_broadcasts(ws, listeners)) == set(listeners)
    ws.act(live.speaker, "pause")
    assert [(i["job"]["shard"], i["job"]["shards"]) for i in client.invokes] == [(1, 2)]  # 6 connections


def _message_then_artifact_change(ws, live) -> None:
    """Every fan-out kind a session's connections get besides broadcasts and status changes: a message over
    HTTP, one over WebSocket (its sender answered directly), an artifact's status change."""
    sid = live.session_id
    assert ws.http("POST", f"/sessions/{sid}/messages", user=live.owner, body={"text": "over HTTP"}).status == 201
    assert ws.act(live.speaker, "sendMessage", text="over WebSocket")["type"] == "message"
    artifact = ws.http("POST", f"/sessions/{sid}/artifacts", user=live.owner, body=PNG).body["artifact"]
    path = f"/sessions/{sid}/artifacts/{artifact['artifactId']}"
    assert ws.http("PATCH", path, user=live.owner, body={"status": "processing"}).status == 200


PNG = {"kind": "image", "contentType": "image/png", "fileName": "slide.png"}


def test_a_message_and_an_artifact_change_are_sharded_too_and_reach_everyone_once_in_seq_order(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(12)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=5)  # 13 connections: 3 shards
    _message_then_artifact_change(ws, live)
    jobs = [invoke["job"] for invoke in client.invokes]
    assert [(job["shard"], job["shards"], job["payloads"][0]["type"]) for job in jobs] == [
        (k, 3, kind) for kind in ("message", "message", "artifactUpdated") for k in (1, 2)
    ]
    # The speaker's connection is in a message's shards too; an unshared artifact's change goes to the listeners
    # in shards and to the speaker in its own fuller post.
    assert [job["listenersOnly"] for job in jobs] == [False, False, False, False, True, True]
    assert [job.get("excludedConnectionId") for job in jobs] == [None, None, live.speaker, live.speaker, None, None]
    for job in jobs:
        ws.fanout_worker(job)
    for connection in listeners:
        got = [(m["type"], m["seq"]) for m in ws.received(connection) if m["type"] in ("message", "artifactUpdated")]
        assert [kind for kind, _ in got] == ["message", "message", "artifactUpdated"]  # each exactly once ...
        assert [seq for _, seq in got] == sorted({seq for _, seq in got})  # ... in seq order
    # The speaker's own WebSocket message is its answer, never pushed back to it.
    assert [m["text"] for m in ws.received(live.speaker, "message")] == ["over HTTP"]
    assert len(ws.received(live.speaker, "artifactUpdated")) == 1


def test_a_message_and_an_artifact_change_below_the_threshold_invoke_no_worker(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(3)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=5)  # 4 connections: served here
    _message_then_artifact_change(ws, live)
    assert client.invokes == []
    for connection in listeners:
        assert ws.management.types_sent_to(connection) == ["message", "message", "artifactUpdated"]


def test_connection_reads_throttled_for_a_while_are_retried_and_the_broadcast_served_here(ws, live, throttle):
    listeners = [ws.connected(live.session_id) for _ in range(3)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=100)
    refused = throttle("query", times=3)
    answer = ws.act(live.speaker, "broadcast", data={"caption": "hi"})
    assert answer["type"] == "broadcastSent" and answer["delivered"] == len(listeners)
    assert len(refused) == 3 and client.invokes == []
    assert _broadcasts(ws, listeners) == Counter(dict.fromkeys(listeners, 1))


def test_a_fanout_whose_reads_stay_throttled_is_handed_to_the_worker_never_dropped(
    ws, live, throttle, invocations_lasting, monkeypatch
):
    """Reads throttled past the invocation's patience: the fan-out goes to the worker (Lambda retries its
    failures and keeps the last in the dead-letter queue), which reaches every listener once, in order."""
    listeners = [ws.connected(live.session_id) for _ in range(3)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=100)
    invocations_lasting(0.2)
    throttle("query")
    first = ws.act(live.speaker, "broadcast", data={"n": 1})
    second = ws.act(live.speaker, "broadcast", data={"n": 2})
    assert first["type"] == second["type"] == "broadcastSent"
    assert _broadcasts(ws, listeners) == Counter()  # no one yet
    jobs = [invoke["job"] for invoke in client.invokes]
    assert [(job["shard"], job["shards"], job["payloads"][0]["seq"]) for job in jobs] == [
        (0, 1, first["seq"]),
        (0, 1, second["seq"]),
    ]
    monkeypatch.undo()  # the partition cooled down
    for job in jobs:  # what Lambda does with them (its retries, had a worker's reads still been throttled)
        ws.fanout_worker(job)
    for listener in listeners:
        assert [m["seq"] for m in ws.received(listener, "broadcast")] == [first["seq"], second["seq"]]
    assert ws.received(live.speaker, "broadcast") == []
