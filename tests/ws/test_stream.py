"""One ordered stream per session, and recovery: `join {sinceSeq, epoch}` replays what a connection missed.

Every event pushed because the session changed carries the session's gap-free `seq`; the per-connection
answers carry none. A recovering join posts `joined` first and then the missed events (its route response is
empty, since API Gateway would send a route response only after them).
"""

from __future__ import annotations

import json

import pytest

from tests.support.ws_events import message_event

STREAM_TYPES = {"broadcast", "message", "sessionUpdated", "sessionEnded", "artifactUpdated"}


def seqs(messages):
    return [m["seq"] for m in messages if m.get("type") in STREAM_TYPES]


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
    [({"sinceSeq": 3}, "epoch"), ({"epoch": "abc"}, "sinceSeq"), ({"sinceSeq": -1, "epoch": "a"}, "sinceSeq"),
     ({"sinceSeq": 1, "epoch": "no spaces"}, "epoch"), ({"sinceSeq": 1.5, "epoch": "a"}, "sinceSeq")],
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
