"""One ordered stream per session, and recovery: `join {sinceSeq, epoch}` replays what a connection missed.

Every event pushed because the session changed carries the session's gap-free `seq`; the per-connection
answers carry none. A recovering join posts `joined` first and then the missed events (its route response is
empty, since API Gateway would send a route response only after them).
"""

from __future__ import annotations

import json

import pytest

from tests.support.racing_release import publishing_before_each_release
from tests.support.ws_events import message_event

STREAM_TYPES = {"broadcast", "message", "sessionUpdated", "sessionEnded", "artifactUpdated"}


def seqs(messages):
    """The stream seqs received, in order, those of a `batch` frame (protocol version 2) included."""
    unbatched = [e for m in messages for e in (m["events"] if m.get("type") == "batch" else [m])]
    return [m["seq"] for m in unbatched if m.get("type") in STREAM_TYPES]


def raw_act(ws, connection_id, **frame):
    """One frame, the raw route response (a recovering join's is empty)."""
    return ws.websocket(message_event(connection_id, frame, frame["action"]))


def drive(ws, live, n_broadcasts=3):
    ws.act(live.speaker, "broadcast", data={"n": 0})
    ws.act(live.speaker, "sendMessage", text="hello")
    ws.act(live.speaker, "pause")
    ws.act(live.speaker, "resume")
    for n in range(1, n_broadcasts):
        ws.act(live.speaker, "broadcast", data={"n": n})


def test_every_session_event_carries_one_gap_free_seq_and_answers_carry_none(ws, live):
    listener = ws.connected(live.session_id)
    assert ws.act(listener, "join")["session"]["seq"] == 0
    drive(ws, live)
    got = ws.received(listener)
    assert seqs(got) == [1, 2, 3, 4, 5, 6]
    assert ws.session(live.session_id).seq == 6
    for answer in ws.received(live.speaker, "listenerCount") + [ws.act(listener, "ping")]:
        assert "seq" not in answer


def test_a_join_since_a_seq_gets_joined_then_every_kept_event_after_it_in_order(ws, live):
    watcher = ws.connected(live.session_id)
    drive(ws, live)
    live_copy = [m for m in ws.received(watcher) if m.get("type") in STREAM_TYPES]
    epoch = ws.session(live.session_id).epoch

    back = ws.connected(live.session_id)
    result = raw_act(ws, back, action="join", sinceSeq=2, epoch=epoch, id="resume-1")
    assert result == {"statusCode": 200}  # nothing in the route response: it all went first, in order
    got = ws.received(back)
    assert got[0]["type"] == "joined" and got[0]["recovered"] is True and got[0]["id"] == "resume-1"
    assert got[0]["session"]["seq"] == 6 and got[0]["session"]["epoch"] == epoch
    replayed = [m for m in got[1:] if m.get("type") in STREAM_TYPES]
    assert replayed == live_copy[2:]  # byte for byte what everyone got live: seq 3..6
    assert seqs(replayed) == [3, 4, 5, 6]


def test_a_join_already_up_to_date_recovers_nothing_and_one_from_zero_gets_everything(ws, live):
    drive(ws, live, n_broadcasts=1)
    session = ws.session(live.session_id)
    up_to_date = ws.connected(live.session_id)
    raw_act(ws, up_to_date, action="join", sinceSeq=session.seq, epoch=session.epoch)
    assert [m["type"] for m in ws.received(up_to_date)] == ["joined"]
    from_start = ws.connected(live.session_id)
    raw_act(ws, from_start, action="join", sinceSeq=0, epoch=session.epoch)
    assert seqs(ws.received(from_start)) == list(range(1, session.seq + 1))


@pytest.mark.parametrize(
    "case",
    ["another epoch", "ahead of the session", "past the count cap", "older than the window"],
)
def test_a_join_that_cannot_be_recovered_says_so_with_the_current_view(ws, live, case):
    drive(ws, live)
    session = ws.session(live.session_id)
    since, epoch = 2, session.epoch
    if case == "another epoch":
        epoch = "another"
    elif case == "ahead of the session":
        since = session.seq + 1
    elif case == "past the count cap":
        ws.runtime.store.stream_max_events = 3
    else:  # the events' TTL has passed (DynamoDB may not have removed them yet: they count as gone)
        real = ws.runtime.store.clock
        ws.runtime.store.clock = lambda: real() + (ws.runtime.store.stream_window_seconds + 5) * 1000
    back = ws.connected(live.session_id)
    raw_act(ws, back, action="join", sinceSeq=since, epoch=epoch)
    got = ws.received(back)
    assert got[0]["type"] == "joined" and got[0]["recovered"] is False
    assert got[0]["session"]["seq"] == session.seq  # the new baseline
    assert [m for m in got[1:] if m.get("type") in STREAM_TYPES] == []


def test_no_stream_kept_means_a_resume_is_never_recovered(ws, live):
    ws.runtime.store.stream_window_seconds = 0
    drive(ws, live)
    back = ws.connected(live.session_id)
    raw_act(ws, back, action="join", sinceSeq=1, epoch=ws.session(live.session_id).epoch)
    assert ws.received(back)[0]["recovered"] is False


def test_a_recovery_longer_than_a_page_arrives_whole_and_in_order(ws, live):
    for n in range(130):  # more than one Query page (100)
        ws.act(live.speaker, "broadcast", data=n)
    back = ws.connected(live.session_id)
    raw_act(ws, back, action="join", sinceSeq=0, epoch=ws.session(live.session_id).epoch)
    got = ws.received(back)
    assert seqs(got) == list(range(1, 131))
    assert [m["data"] for m in got[1:]] == list(range(130))


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"sinceSeq": 3}, "epoch"),
        ({"epoch": "abc"}, "sinceSeq"),
        ({"sinceSeq": -1, "epoch": "a"}, "sinceSeq"),
        ({"sinceSeq": 1, "epoch": "no spaces"}, "epoch"),
        ({"sinceSeq": 1.5, "epoch": "a"}, "sinceSeq"),
    ],
)
def test_a_resume_needs_both_a_seq_and_an_epoch(ws, live, frame, field):
    answer = ws.act(live.speaker, "join", **frame)
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", field)


def test_an_end_is_two_stream_events_and_a_late_resume_still_gets_them(ws, live):
    listener = ws.connected(live.session_id)
    ws.act(live.speaker, "broadcast", data=1)
    epoch = ws.session(live.session_id).epoch
    ended = ws.act(live.speaker, "end")
    assert ended["seq"] == 3
    assert seqs(ws.received(listener)) == [1, 2, 3]
    stored = [json.loads(e.frame) for e in ws.runtime.store.recover(ws.session(live.session_id), 1, epoch).events]
    assert [(e["type"], e["seq"]) for e in stored] == [("sessionUpdated", 2), ("sessionEnded", 3)]


def test_events_published_while_a_resume_replays_come_after_it_in_order_and_once(ws, live):
    """A broadcast lands between the hold and each release check: the resuming connection gets none of them live,
    each in the replay's tail, and the ones after the release live: strictly increasing seqs, none twice."""
    for n in range(3):
        ws.act(live.speaker, "broadcast", data=n)
    back = ws.connected(live.session_id)
    with publishing_before_each_release(ws.runtime.store, lambda: ws.act(live.speaker, "broadcast", data="meanwhile")):
        raw_act(ws, back, action="join", sinceSeq=1, epoch=ws.session(live.session_id).epoch)
    ws.act(live.speaker, "broadcast", data="after")
    got = ws.received(back)
    assert got[0]["type"] == "joined" and got[0]["recovered"] is True and got[0]["session"]["seq"] == 3
    assert seqs(got) == [2, 3, 4, 5, 6]  # replay 2-3, the tail 4-5, then 6 live


def test_a_resume_whose_replay_fails_is_not_left_deaf(ws, live):
    ws.act(live.speaker, "broadcast", data=0)
    back = ws.connected(live.session_id)
    store = ws.runtime.store

    def failing(*args, **kwargs):
        raise RuntimeError("injected: the Query failed")

    store.recover = failing
    answer = raw_act(ws, back, action="join", sinceSeq=0, epoch=ws.session(live.session_id).epoch)
    del store.recover
    assert "INTERNAL_ERROR" in str(answer)
    ws.received(back)
    ws.act(live.speaker, "broadcast", data=1)
    assert seqs(ws.received(back)) == [2]  # live again from the head it read


def _hole_older_code_left(ws, session_id: str, age_ms: int) -> int:
    """Older code claimed a seq (an UpdateItem) and died before keeping its event: the seq it lost."""
    store = ws.runtime.store
    lost = store.read_head(session_id).seq + 1
    ws.runtime.store.client.update_item(
        TableName=store.table_name,
        Key={"PK": {"S": f"SESSION#{session_id}"}, "SK": {"S": "META"}},
        UpdateExpression="ADD #s :one",
        ExpressionAttributeNames={"#s": "seq"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    real = store.clock
    store.clock = lambda: real() - age_ms  # the event after it is kept this long ago
    try:
        from tests.support.stream_writes import broadcast

        broadcast(store, session_id, "after the hole")
    finally:
        store.clock = real
    return lost


def test_a_hole_older_code_left_is_reported_missing_once_no_writer_can_fill_it(ws, live):
    from session_store.stream_log import WRITER_LIFETIME_MS

    ws.act(live.speaker, "broadcast", data=0)
    lost = _hole_older_code_left(ws, live.session_id, age_ms=WRITER_LIFETIME_MS + 1000)
    epoch = ws.session(live.session_id).epoch
    back = ws.connect(live.session_id, v="2").connection_id  # a client that can skip a hole it is told of
    raw_act(ws, back, action="join", sinceSeq=0, epoch=epoch)
    got = ws.received(back)
    assert got[0]["recovered"] is True and got[0]["missing"] == [lost]
    assert seqs(got) == [1, 3]
    page = ws.http("GET", f"/sessions/{live.session_id}/events", query={"sinceSeq": "0", "epoch": epoch})
    assert page.body["missing"] == [lost] and [e["seq"] for e in page.body["items"]] == [1, 3]


def test_a_version_1_client_resets_across_a_hole_instead_of_being_told_of_it(ws, live):
    """A client of the first protocol version knows no `missing`: it would wait for the hole and resume across it
    forever. It is answered `recovered: false` (reset from `session`), and gets what follows live."""
    from session_store.stream_log import WRITER_LIFETIME_MS

    ws.act(live.speaker, "broadcast", data=0)
    _hole_older_code_left(ws, live.session_id, age_ms=WRITER_LIFETIME_MS + 1000)
    back = ws.connected(live.session_id)  # no `v` on its connect URL: version 1
    raw_act(ws, back, action="join", sinceSeq=0, epoch=ws.session(live.session_id).epoch)
    got = ws.received(back)
    assert got[0]["recovered"] is False and "missing" not in got[0] and got[0]["session"]["seq"] == 3
    assert seqs(got) == []
    ws.act(live.speaker, "broadcast", data="live")
    assert seqs(ws.received(back)) == [4]


def test_a_hole_a_writer_may_still_fill_is_not_vouched_for(ws, live):
    ws.act(live.speaker, "broadcast", data=0)
    _hole_older_code_left(ws, live.session_id, age_ms=0)
    back = ws.connected(live.session_id)
    raw_act(ws, back, action="join", sinceSeq=0, epoch=ws.session(live.session_id).epoch)
    got = ws.received(back)
    assert got[0]["recovered"] is False and "missing" not in got[0]
    assert seqs(got) == []


# ------------------------------------------------------------------ the live mark, per event of a send


def test_each_event_of_one_send_skips_a_connection_whose_replay_carries_it(ws, live):
    """A publish of several events (an end's two, or any `send_many`): a connection a recovery released from seq 5
    gets only the events from 5 on, in one `batch` at version 2 and one by one at version 1; one still held gets
    none of them, and is not closed with the listeners either (its recovery replays them)."""
    from session_runtime.fanout import is_listener
    from session_store.stream_log import WRITER_LIFETIME_MS

    store = ws.runtime.store
    plain = ws.connected(live.session_id)
    released_v1 = ws.connected(live.session_id)
    released_v2 = ws.connect(live.session_id, v="2").connection_id
    held = ws.connected(live.session_id)
    for connection_id in (released_v1, released_v2):
        store.release_connection_now(store.get_connection(connection_id), 5)
    assert store.hold_connection(store.get_connection(held), for_ms=WRITER_LIFETIME_MS)
    published = [{"type": "broadcast", "data": n, "ts": 1, "seq": n} for n in (4, 5, 6)]

    result = ws.runtime.fanout.send_many(live.session_id, published, close=is_listener)  # as an end does

    assert seqs(ws.received(plain)) == [4, 5, 6]
    assert ws.received(released_v1) == published[1:]
    assert ws.received(released_v2) == [{"type": "batch", "events": published[1:]}]
    assert ws.received(held) == [] and held not in ws.management.closed and plain in ws.management.closed
    assert result.sent == 4  # the speaker, the plain listener and both released ones
