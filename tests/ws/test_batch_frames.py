"""Several events for one connection travel in `batch` frames of at most 32 KB, only to connections that declared
protocol version 2 (`&v=2`); older connections get the same events one frame each.

Each event in a batch is exactly what would have been sent alone, in seq order; an app unpacking the frames sees
the same events in the same order either way.
"""

from __future__ import annotations

import json

import pytest

from session_protocol import versions
from session_protocol.batch import BATCH_MAX_BYTES, Outgoing, pack
from session_protocol.encoding import encode_payload
from session_schema import codec

from tests.support.ws_events import message_event


def unpacked(frames: list[dict]) -> list[dict]:
    """The events an app sees: a batch's events in order, any other frame as itself."""
    return [event for frame in frames for event in (frame["events"] if frame["type"] == "batch" else [frame])]


def posted_size(frame: dict) -> int:
    return len(encode_payload(frame))  # the server's own encoder: the very bytes it posted


# ------------------------------------------------------------------ packing


def test_packing_keeps_every_event_whole_and_in_order_in_frames_under_the_limit():
    events = [
        encode_payload({"type": "broadcast", "data": "x" * (n * 37 % 900), "ts": 1, "seq": n}) for n in range(1, 200)
    ]
    frames = pack(events, max_bytes=4096)
    assert 1 < len(frames) < len(events)
    assert all(len(frame) <= 4096 for frame in frames)
    decoded = [json.loads(frame) for frame in frames]
    assert [e["seq"] for e in unpacked(decoded)] == list(range(1, 200))
    assert encode_payload(unpacked(decoded)) == b"[" + b",".join(events) + b"]"  # byte for byte as alone


def test_an_event_that_shares_no_frame_goes_bare():
    small, large = b'{"type":"broadcast","seq":1}', encode_payload({"type": "broadcast", "data": "y" * 5000, "seq": 2})
    assert pack([small]) == [small]
    assert pack([small, large, small], max_bytes=1000) == [small, large, small]


def test_a_connection_gets_the_frames_of_its_version_and_no_kind_newer_than_it():
    newer = (versions.CURRENT + 1, b'{"type":"fromTheFuture"}')
    outgoing = Outgoing([(1, b'{"type":"broadcast","seq":1}'), newer, (1, b'{"type":"broadcast","seq":2}')])
    assert outgoing.frames_for(versions.FIRST) == [b'{"type":"broadcast","seq":1}', b'{"type":"broadcast","seq":2}']
    assert outgoing.frames_for(versions.BATCH) == [
        b'{"type":"batch","events":[{"type":"broadcast","seq":1},{"type":"broadcast","seq":2}]}'
    ]
    assert outgoing.frames_for(versions.CURRENT + 1)[0].count(b"fromTheFuture") == 1


def test_a_connection_that_takes_some_of_the_events_gets_those_alone_in_order():
    """A connection a recovery replays to skips the events its replay carries (the fan-out says which it takes)."""
    outgoing = Outgoing.kept([b'{"seq":1}', b'{"seq":2}', b'{"seq":3}'])
    assert outgoing.frames_for(versions.BATCH, (1, 2)) == [b'{"type":"batch","events":[{"seq":2},{"seq":3}]}']
    assert outgoing.frames_for(versions.FIRST, (2,)) == [b'{"seq":3}']
    assert outgoing.frames_for(versions.BATCH, ()) == []
    assert len(outgoing.frames_for(versions.BATCH)) == 1  # all of them: a selection is no other version's answer


# ------------------------------------------------------------------ the connect URL declares the version


@pytest.mark.parametrize(
    ("query", "version"), [({}, 1), ({"v": "1"}, 1), ({"v": "2"}, 2), ({"v": "7"}, versions.CURRENT)]
)
def test_the_declared_version_is_kept_on_the_connection_and_capped_at_the_server_s(ws, live, query, version):
    connection_id = ws.connect(live.session_id, **query).connection_id
    assert ws.store.get_connection(connection_id).protocolVersion == version
    (target,) = [t for t in ws.store.iter_connection_targets(live.session_id) if t.connectionId == connection_id]
    assert target.protocolVersion == version


@pytest.mark.parametrize("bad", ["two", "0", "-1", "1.5", "", "99999", "２"])
def test_a_malformed_version_is_refused_naming_v(ws, live, bad):
    handshake = ws.connect(live.session_id, v=bad)
    assert (handshake.status, handshake.code, handshake.error["field"]) == (400, "VALIDATION_ERROR", "v")


def test_a_connection_stored_before_versions_reads_as_version_1(ws, live):
    connection_id = ws.connected(live.session_id)
    item = ws.store.client.get_item(
        TableName=ws.store.table_name,
        Key=codec.serialize_key(codec.connection_item_key(ws.store.get_connection(connection_id))),
    )["Item"]
    item.pop("protocolVersion", None)  # a version-1 entry is written without it (its default) today
    assert codec.decode_target(item).protocolVersion == 1
    assert codec.decode_entry(item).protocolVersion == 1
    assert codec.decode_entry(codec.legacy_connection_item(ws.store.get_connection(connection_id))).protocolVersion == 1


# ------------------------------------------------------------------ a publish of several events


def _listeners(ws, session_id):
    return ws.connect(session_id).connection_id, ws.connect(session_id, v="2").connection_id


def test_the_events_of_one_publish_reach_a_v2_listener_as_one_frame_and_a_v1_listener_one_by_one(ws, live):
    v1, v2 = _listeners(ws, live.session_id)
    published = [{"type": "broadcast", "data": {"n": n}, "ts": 1, "seq": n} for n in range(1, 6)]
    result = ws.runtime.fanout.send_many(live.session_id, published)
    assert result.sent == 3  # the speaker, both listeners
    (frame,) = ws.received(v2)
    assert frame == {"type": "batch", "events": published}
    assert ws.received(v1) == published


def test_a_publish_over_32_kb_is_split_into_frames_under_it(ws, live):
    v1, v2 = _listeners(ws, live.session_id)
    published = [{"type": "broadcast", "data": "z" * 3000, "ts": 1, "seq": n} for n in range(1, 41)]  # ~120 KB
    ws.runtime.fanout.send_many(live.session_id, published)
    frames = ws.received(v2)
    assert 4 <= len(frames) <= 5 and all(posted_size(f) <= BATCH_MAX_BYTES for f in frames)
    assert unpacked(frames) == published == ws.received(v1)


def test_an_end_reaches_a_v2_listener_as_one_batch_of_its_two_events(ws, live):
    v1, v2 = _listeners(ws, live.session_id)
    ws.act(live.speaker, "end")
    (frame,) = ws.received(v2)
    assert [(e["type"], e["seq"]) for e in frame["events"]] == [("sessionUpdated", 1), ("sessionEnded", 2)]
    assert unpacked(ws.received(v2)) == ws.received(v1)


# ------------------------------------------------------------------ recovery


def _recover_all(ws, live, connection_id):
    epoch = ws.session(live.session_id).epoch
    ws.websocket(message_event(connection_id, {"action": "join", "sinceSeq": 0, "epoch": epoch}, "join"))
    joined, *frames = ws.received(connection_id)
    assert joined["type"] == "joined" and joined["recovered"] is True
    return frames


def test_a_recovery_of_300_events_takes_a_handful_of_frames_each_under_32_kb_in_seq_order(ws, live):
    for n in range(300):
        ws.act(live.speaker, "broadcast", data={"n": n, "text": "w" * 400})  # ~130 KB in all
    v1, v2 = _listeners(ws, live.session_id)

    frames = _recover_all(ws, live, v2)
    assert len(frames) <= 8  # 300 posts without batches; a batch per 32 KB of each 100-event page
    assert all(frame["type"] == "batch" and posted_size(frame) <= BATCH_MAX_BYTES for frame in frames)
    events = unpacked(frames)
    assert [e["seq"] for e in events] == list(range(1, 301))
    assert [e["data"]["n"] for e in events] == list(range(300))

    single = _recover_all(ws, live, v1)
    assert len(single) == 300 and single == events  # a v1 connection: the same events, one frame each
