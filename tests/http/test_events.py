"""`GET /sessions/{id}/events`: the stream for apps that poll, with the same rule as `join {sinceSeq}`."""

from __future__ import annotations

from collections import Counter

from tests.support import stream_writes


def broadcast(api, sid: str, n: int) -> None:
    for i in range(n):
        stream_writes.broadcast(api.store, sid, i)


def test_events_after_a_seq_come_in_order_in_pages_that_continue(api):
    sid = api.create("alice")["sessionId"]
    broadcast(api, sid, 5)
    epoch = api.session(sid).epoch
    first = api.http("GET", f"/sessions/{sid}/events", query={"sinceSeq": "1", "epoch": epoch, "limit": "2"})
    assert first.status == 200 and first.body["recovered"] is True
    assert [e["seq"] for e in first.body["items"]] == [2, 3] and first.body["nextSinceSeq"] == 3
    assert first.body["session"]["seq"] == 5 and first.body["session"]["epoch"] == epoch
    rest = api.http("GET", f"/sessions/{sid}/events", query={"sinceSeq": "3", "epoch": epoch})
    assert [e["data"] for e in rest.body["items"]] == [3, 4] and rest.body["nextSinceSeq"] is None
    everything = api.http("GET", f"/sessions/{sid}/events")  # from the start of the current epoch
    assert [e["seq"] for e in everything.body["items"]] == [1, 2, 3, 4, 5]


def test_another_epoch_or_a_seq_ahead_is_not_recovered(api):
    sid = api.create("alice")["sessionId"]
    broadcast(api, sid, 2)
    for query in ({"sinceSeq": "1", "epoch": "other"}, {"sinceSeq": "9", "epoch": api.session(sid).epoch}):
        answer = api.http("GET", f"/sessions/{sid}/events", query=query)
        assert answer.status == 200 and answer.body["recovered"] is False and answer.body["items"] == []


def test_bad_since_seq_is_a_validation_error_naming_it(api):
    sid = api.create("alice")["sessionId"]
    for value in ("-1", "x", "1.5", "1e400", "NaN", str(10**15)):
        answer = api.http("GET", f"/sessions/{sid}/events", query={"sinceSeq": value})
        assert answer.status == 400 and answer.error["field"] == "sinceSeq", value


def test_once_ended_the_stream_is_the_owners_alone(api):
    sid = api.create("alice")["sessionId"]
    broadcast(api, sid, 1)
    api.http("DELETE", f"/sessions/{sid}", user="alice")
    assert api.http("GET", f"/sessions/{sid}/events").status == 404
    owners = api.http("GET", f"/sessions/{sid}/events", user="alice")
    assert [e["type"] for e in owners.body["items"]] == ["broadcast", "sessionUpdated", "sessionEnded"]


def test_a_repeated_delete_is_one_read_and_tells_no_one(api, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "listener-1")
    api.http("DELETE", f"/sessions/{sid}", user="alice")
    sent = dict(management.sent)
    counted: Counter = Counter()
    events = api.store.client.meta.events
    events.register("before-call.dynamodb", lambda model, **kw: counted.update([model.name]), unique_id="del-count")
    try:
        assert api.http("DELETE", f"/sessions/{sid}", user="alice").status == 204
    finally:
        events.unregister("before-call.dynamodb", unique_id="del-count")
    assert counted == {"GetItem": 1}
    assert dict(management.sent) == sent


def test_the_largest_allowed_since_returns_no_message(api):
    sid = api.create("alice")["sessionId"]
    api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": "hi"})
    latest = api.http("GET", f"/sessions/{sid}/messages", query={"since": "9999999999999"})
    assert latest.status == 200 and latest.body["items"] == []
    assert len(api.http("GET", f"/sessions/{sid}/messages", query={"since": "0"}).body["items"]) == 1
