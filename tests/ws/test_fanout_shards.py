"""The fan-out worker (connection_handler.fanout_worker): n shards of one session's fan-out, each reading
only its own connections from the table (moto), reach every connection exactly once between them; the
gone ones found by a shard are unregistered and told; a shard that cannot read its connections raises (for
Lambda's asynchronous retry) and is counted."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.handlers import Live


@pytest.fixture
def live(ws) -> Live:
    """A session large enough to shard, its owner connected as speaker."""
    session = ws.create_session(owner="owner-1", max_listeners=200)
    return Live(session.sessionId, "owner-1", ws.connected(session.sessionId, user="owner-1"))


def _job(session_id: str, shard: int, shards: int, **fields):
    return {
        "sessionId": session_id,
        "shard": shard,
        "shards": shards,
        "payloads": [{"type": "broadcast", "seq": 7}],
        **fields,
    }


def test_a_sharded_broadcast_reaches_every_connection_of_every_shard_exactly_once(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(120)]
    ws.management.gone.add(listeners[5])
    shards = 7
    answers = [ws.fanout_worker(_job(live.session_id, k, shards)) for k in range(shards)]
    everyone = {live.speaker, *listeners}
    broadcasts = Counter(cid for cid in everyone for m in ws.management.sent.get(cid, []) if m["type"] == "broadcast")
    assert set(broadcasts) == everyone - {listeners[5]} and set(broadcasts.values()) == {1}  # exactly once each
    assert Counter(cid for kind, cid in ws.management.calls if kind == "post")[listeners[5]] == 1
    assert sum(a["sent"] for a in answers) == len(everyone) - 1 and sum(a["gone"] for a in answers) == 1
    assert sum(1 for a in answers if a["sent"]) > 1  # the work is spread over the shards
    assert ws.runtime.store.get_connection(listeners[5]) is None  # the gone one unregistered ...
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 119  # ... and its leave told


def test_a_shard_can_close_listeners_after_two_events_in_order(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(10)]
    two = [{"type": "sessionUpdated", "seq": 3}, {"type": "sessionEnded", "seq": 4}]
    for k in range(3):
        ws.fanout_worker(_job(live.session_id, k, 3, payloads=two, closeListeners=True))
    for listener in listeners:
        assert ws.management.types_sent_to(listener) == ["sessionUpdated", "sessionEnded"]
    assert sorted(ws.management.closed) == sorted(listeners)  # the speaker keeps its connection


def test_a_shard_that_cannot_read_raises_for_a_retry_and_is_counted(ws, live, monkeypatch, logs):
    def broken(*args, **kwargs):
        raise RuntimeError("Query failed")

    monkeypatch.setattr(ws.runtime.store, "iter_connection_targets", broken)
    with pytest.raises(RuntimeError, match="Query failed"):
        ws.fanout_worker(_job(live.session_id, 1, 4))
    assert any(line.get("message", "").startswith("a fan-out shard failed") for line in logs.lines)


def test_a_malformed_job_is_refused():
    from pydantic import ValidationError

    from connection_handler.fanout_worker import ShardJob

    with pytest.raises(ValidationError):
        ShardJob.model_validate({"sessionId": "s", "shard": 0, "shards": 0, "payloads": [{}]})


def test_a_shard_whose_read_fails_midway_sends_nothing_so_its_retry_delivers_each_once(ws, live, monkeypatch):
    """The shard is larger than the posts a fan-out keeps in flight (its window): were posts started while it
    is read, some would be sent before the read fails, and sent again by Lambda's retry of the whole shard."""
    listeners = [ws.connected(live.session_id) for _ in range(20)]
    ws.runtime.fanout.concurrency = 1  # a window of 4 connections
    store = ws.runtime.store
    real = store.iter_connection_targets

    def failing_midway(*args, **kwargs):
        for n, target in enumerate(real(*args, **kwargs)):
            if n == 10:
                raise ConnectionError("the Query's next page failed")
            yield target

    monkeypatch.setattr(store, "iter_connection_targets", failing_midway)
    with pytest.raises(ConnectionError):
        ws.fanout_worker(_job(live.session_id, 0, 1))
    assert ws.management.calls == []  # nothing sent before the raise
    monkeypatch.setattr(store, "iter_connection_targets", real)
    ws.fanout_worker(_job(live.session_id, 0, 1))  # Lambda's retry: the same job
    broadcasts = Counter(cid for cid in [live.speaker, *listeners] for m in ws.received(cid, "broadcast"))
    assert set(broadcasts) == {live.speaker, *listeners} and set(broadcasts.values()) == {1}
