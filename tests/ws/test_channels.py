"""Channels: a channel's events reach only its listeners, in the channel's own gap-free stream; session-wide
events reach everyone once; `subscribe` moves a connection in one transaction; counts per channel stay exact;
connections registered under the keys older code used keep receiving session-wide events."""

from __future__ import annotations

from collections import Counter

import pytest

from session_schema import codec, keys
from session_schema.models import Connection

from tests.support.racing_release import publishing_before_each_release
from tests.support.ws_events import message_event, new_connection_id

CHANNELS = ["en", "es", "fr"]


@pytest.fixture
def talk(ws):
    body = ws.create(user="owner-1", title="Talk", channels=CHANNELS)
    speaker = ws.connected(body["sessionId"], user="owner-1")
    return body["sessionId"], speaker


def on(ws, session_id, channel):
    handshake = ws.connect(session_id, channel=channel)
    assert handshake.status == 200, handshake.error
    return handshake.connection_id


def broadcasts(ws, connection_id):
    return [(m.get("channel"), m["seq"], m["data"]) for m in ws.received(connection_id, "broadcast")]


def test_a_channel_broadcast_reaches_only_its_listeners_and_a_session_wide_one_everyone_once(ws, talk):
    session_id, speaker = talk
    listeners = {channel: [on(ws, session_id, channel) for _ in range(2)] for channel in CHANNELS}
    nowhere = ws.connected(session_id)
    sent = ws.act(speaker, "broadcast", data="hola", channel="es")
    assert sent["channel"] == "es" and sent["seq"] == 1 and sent["delivered"] == 2
    ws.act(speaker, "broadcast", data="hola 2", channel="es")
    ws.act(speaker, "broadcast", data="bonjour", channel="fr")
    everyone = ws.act(speaker, "broadcast", data="all")
    assert "channel" not in everyone
    for listener in listeners["es"]:
        assert broadcasts(ws, listener) == [("es", 1, "hola"), ("es", 2, "hola 2"), (None, everyone["seq"], "all")]
    for listener in listeners["fr"]:
        assert broadcasts(ws, listener) == [("fr", 1, "bonjour"), (None, everyone["seq"], "all")]
    for listener in [*listeners["en"], nowhere]:
        assert broadcasts(ws, listener) == [(None, everyone["seq"], "all")]


def test_an_undeclared_channel_is_refused_at_the_handshake_and_in_actions(ws, talk):
    session_id, speaker = talk
    refused = ws.connect(session_id, channel="de")
    assert refused.status == 400 and refused.code == "INVALID_CHANNEL"
    assert ws.connect(session_id, channel="Not A Name").code == "VALIDATION_ERROR"
    listener = ws.connected(session_id)
    answer = ws.act(listener, "subscribe", channel="de")
    assert answer["type"] == "error" and answer["code"] == "INVALID_CHANNEL" and answer["field"] == "channel"
    assert ws.act(speaker, "broadcast", data=1, channel="de")["code"] == "INVALID_CHANNEL"
    assert ws.session(session_id).listenerCount == 1


def test_subscribe_moves_the_connection_in_one_step_and_answers_the_new_streams_position(ws, talk):
    session_id, speaker = talk
    listener = on(ws, session_id, "es")
    ws.act(speaker, "broadcast", data="fr 1", channel="fr")
    answer = ws.act(listener, "subscribe", channel="fr")
    assert answer == {"type": "subscribed", "channel": "fr", "seq": 1, "epoch": ws.session(session_id).epoch}
    ws.act(speaker, "broadcast", data="es after", channel="es")
    ws.act(speaker, "broadcast", data="fr 2", channel="fr")
    assert broadcasts(ws, listener) == [("fr", 2, "fr 2")]
    counts = ws.session(session_id).channelCounts
    assert counts["es"] == 0 and counts["fr"] == 1
    assert ws.act(listener, "subscribe", channel=None) == {
        "type": "subscribed",
        "channel": None,
        "seq": 0,
        "epoch": ws.session(session_id).epoch,
    }
    assert ws.session(session_id).channelCounts["fr"] == 0


def test_per_channel_counts_stay_exact_through_churn_and_reach_the_speaker(ws, talk):
    session_id, speaker = talk
    connected = [on(ws, session_id, CHANNELS[i % 3]) for i in range(9)]
    ws.act(connected[0], "subscribe", channel="fr")
    ws.act(connected[1], "subscribe", channel=None)
    for gone in connected[5:8]:
        ws.disconnect(gone)
    remaining = Counter(c.channel for c in ws.store.iter_connections(session_id) if c.role == "listener")
    session = ws.session(session_id)
    assert session.channelCounts == {name: remaining.get(name, 0) for name in CHANNELS}
    assert session.listenerCount == 6
    last = ws.received(speaker, "listenerCount")[-1]
    assert last["channels"] == session.channelCounts
    public = ws.http("GET", f"/sessions/{session_id}").body["channels"]
    assert public == [{"name": n, "listenerCount": session.channelCounts[n]} for n in CHANNELS]


def test_a_channel_recovery_replays_the_missed_events_of_that_channel(ws, talk):
    session_id, speaker = talk
    listener = on(ws, session_id, "es")
    ws.act(speaker, "broadcast", data="es 1", channel="es")
    epoch = ws.session(session_id).epoch
    for n in (2, 3):
        ws.act(speaker, "broadcast", data=f"es {n}", channel="es")
    back = ws.connected(session_id)
    frame = {"action": "join", "sinceSeq": 0, "epoch": epoch, "channel": "es", "channelSinceSeq": 1}
    assert ws.websocket(message_event(back, frame, "join")) == {"statusCode": 200}
    got = ws.received(back)
    assert got[0]["type"] == "joined" and got[0]["recovered"] is True
    assert got[0]["channelStream"] == {"channel": "es", "seq": 3}
    assert [(m["channel"], m["seq"]) for m in got[1:] if m["type"] == "broadcast"] == [("es", 2), ("es", 3)]
    page = ws.http("GET", f"/sessions/{session_id}/events", query={"channel": "es", "sinceSeq": "1"})
    assert [e["seq"] for e in page.body["items"]] == [2, 3], page.raw_body
    assert listener


def test_a_resuming_join_holds_its_channel_stream_too_so_its_channel_seqs_come_strictly_increasing(ws, talk):
    """Channel events published while the resume replays (between its hold and each release check) skip the held
    connection and come in the replay's tail; the one after the release comes live: es 1-5, in order, once."""
    session_id, speaker = talk
    on(ws, session_id, "es")  # a listener of es besides the resuming one
    for n in (1, 2):
        ws.act(speaker, "broadcast", data=f"es {n}", channel="es")
    epoch = ws.session(session_id).epoch
    back = on(ws, session_id, "es")
    frame = {"action": "join", "sinceSeq": 0, "epoch": epoch, "channel": "es", "channelSinceSeq": 0}
    with publishing_before_each_release(ws.runtime.store, lambda: ws.act(speaker, "broadcast", data="-", channel="es")):
        assert ws.websocket(message_event(back, frame, "join")) == {"statusCode": 200}
    ws.act(speaker, "broadcast", data="after", channel="es")
    got = ws.received(back)
    assert got[0]["type"] == "joined" and got[0]["recovered"] is True
    assert got[0]["channelStream"] == {"channel": "es", "seq": 2}
    assert [seq for c, seq, _ in broadcasts(ws, back) if c == "es"] == [1, 2, 3, 4, 5]


def test_patch_replaces_the_channels_and_moves_the_listeners_of_a_removed_one_to_none(ws, talk):
    session_id, _ = talk
    listener = on(ws, session_id, "fr")
    answer = ws.http("PATCH", f"/sessions/{session_id}", user="owner-1", body={"channels": ["en", "de"]})
    assert answer.status == 200, answer.raw_body
    assert [c["name"] for c in answer.body["channels"]] == ["en", "de"]
    assert ws.received(listener, "subscribed")[-1]["channel"] is None
    assert ws.store.get_connection(listener).channel is None
    assert ws.session(session_id).listenerCount == 1
    bad = ws.http("PATCH", f"/sessions/{session_id}", user="owner-1", body={"channels": ["en", "en"]})
    assert bad.status == 400 and bad.body["error"]["field"] == "channels"


def test_a_connection_registered_under_the_old_keys_keeps_receiving_and_leaves_cleanly(ws, talk):
    session_id, speaker = talk
    old_id = new_connection_id()
    old = Connection(connectionId=old_id, sessionId=ws.session(session_id).sessionId, role="listener",
                     connectedAt=1, expiresAt=ws.store.clock() // 1000 + 3600)  # fmt: skip
    item = codec.legacy_connection_item(old)
    assert item[keys.PK]["S"] == keys.session_partition(session_id)  # what code before channels wrote
    lookup = codec.encode(old)
    assert codec.CONNECTION_KEY_ATTRIBUTE not in lookup
    for written in (item, lookup):
        ws.store.client.put_item(TableName=ws.store.table_name, Item=written)
    ws.act(speaker, "broadcast", data="all")
    assert [m["data"] for m in ws.received(old_id, "broadcast")] == ["all"]
    ws.act(speaker, "broadcast", data="es only", channel="es")
    assert [m["data"] for m in ws.received(old_id, "broadcast")] == ["all"]
    ws.disconnect(old_id)
    assert ws.store.get_connection(old_id) is None
    assert old_id not in [c.connectionId for c in ws.store.iter_connections(session_id)]


def test_new_connection_items_are_under_the_channel_in_the_session_partition_with_their_lookup_pointing_there(ws, talk):
    session_id, _ = talk
    listener = on(ws, session_id, "es")
    key = keys.connection_key(session_id, listener, "es", 0)
    assert key == {keys.PK: f"CONNS#{session_id}#0", keys.SK: f"C#es#{listener}"}
    lookup = ws.store.client.get_item(
        TableName=ws.store.table_name, Key=codec.serialize_key(keys.connection_lookup_key(listener))
    )["Item"]
    assert codec.deserialize(lookup)[codec.CONNECTION_KEY_ATTRIBUTE] == key
    ws.act(listener, "subscribe", channel="fr")
    lookup = ws.store.client.get_item(
        TableName=ws.store.table_name, Key=codec.serialize_key(keys.connection_lookup_key(listener))
    )["Item"]
    assert codec.deserialize(lookup)[codec.CONNECTION_KEY_ATTRIBUTE][keys.SK] == f"C#fr#{listener}"
    gone = ws.store.client.get_item(TableName=ws.store.table_name, Key=codec.serialize_key(key))
    assert "Item" not in gone


def test_a_batch_publish_numbers_each_event_in_its_own_stream_in_the_order_given(ws, talk):
    session_id, _ = talk
    es, fr = on(ws, session_id, "es"), on(ws, session_id, "fr")
    body = {
        "events": [
            {"data": "a", "channel": "es"},
            {"data": "b"},
            {"data": "c", "channel": "es"},
            {"data": "d", "channel": "fr"},
        ]
    }
    answer = ws.http("POST", f"/sessions/{session_id}/broadcasts", user="owner-1", body=body)
    assert answer.status == 201, answer.raw_body
    assert answer.body["items"] == [
        {"channel": "es", "seq": 1},
        {"channel": None, "seq": ws.session(session_id).seq},
        {"channel": "es", "seq": 2},
        {"channel": "fr", "seq": 1},
    ]
    # Each connection gets the session-wide events and its own channel's, interleaved in the order published.
    wide = ws.session(session_id).seq
    assert broadcasts(ws, es) == [("es", 1, "a"), (None, wide, "b"), ("es", 2, "c")]
    assert broadcasts(ws, fr) == [(None, wide, "b"), ("fr", 1, "d")]
    refused = ws.http(
        "POST",
        f"/sessions/{session_id}/broadcasts",
        user="owner-1",
        body={"events": [{"data": 1}, {"data": 2, "channel": "de"}]},
    )
    assert refused.status == 400 and refused.body["error"]["field"] == "events[1].channel"


MIXED = {"events": [{"data": "es 1", "channel": "es"}, {"data": "all"}, {"data": "es 2", "channel": "es"}]}


def test_a_mixed_batch_reaches_a_version_1_listener_one_frame_per_event_in_the_order_published(ws, talk):
    session_id, speaker = talk
    es, fr = on(ws, session_id, "es"), on(ws, session_id, "fr")
    answer = ws.http("POST", f"/sessions/{session_id}/broadcasts", user="owner-1", body=MIXED)
    assert answer.status == 201, answer.raw_body
    wide = ws.session(session_id).seq
    assert answer.body["items"] == [
        {"channel": "es", "seq": 1},
        {"channel": None, "seq": wide},
        {"channel": "es", "seq": 2},
    ]
    assert [(m["type"], m.get("channel"), m["seq"]) for m in ws.received(es) if "seq" in m] == [
        ("broadcast", "es", 1), ("broadcast", None, wide), ("broadcast", "es", 2)
    ]  # fmt: skip
    assert broadcasts(ws, fr) == [(None, wide, "all")]
    assert broadcasts(ws, speaker) == [(None, wide, "all")]  # the speaker hears what producers publish, no channel


def test_a_mixed_batch_reaches_a_version_2_listener_in_one_batch_frame_in_the_order_published(ws, talk):
    session_id, _ = talk
    handshake = ws.connect(session_id, channel="es", v="2")
    assert handshake.status == 200, handshake.error
    answer = ws.http("POST", f"/sessions/{session_id}/broadcasts", user="owner-1", body=MIXED)
    assert answer.status == 201, answer.raw_body
    frames = [m for m in ws.received(handshake.connection_id) if m.get("type") in ("batch", "broadcast")]
    assert [m["type"] for m in frames] == ["batch"]
    wide = ws.session(session_id).seq
    assert [(e.get("channel"), e["seq"], e["data"]) for e in frames[0]["events"]] == [
        ("es", 1, "es 1"), (None, wide, "all"), ("es", 2, "es 2")
    ]  # fmt: skip


def test_a_batch_whose_write_fails_in_its_last_stream_publishes_nothing_of_it(ws, talk):
    """One transaction over every stream the batch touches: an fr event that cannot be kept (an item already under
    its key) cancels the es and session-wide ones too: no head moved, no event kept, nobody told."""
    session_id, _ = talk
    es = on(ws, session_id, "es")
    store = ws.runtime.store
    before = (ws.session(session_id).seq, store.read_channel_head(session_id, "es"))
    in_the_way = {**keys.channel_event_key(session_id, "fr", 1), "note": "in the way"}
    store.client.put_item(TableName=store.table_name, Item=codec.serialize(in_the_way))
    body = {"events": [*MIXED["events"], {"data": "fr 1", "channel": "fr"}]}
    answer = ws.http("POST", f"/sessions/{session_id}/broadcasts", user="owner-1", body=body)
    assert answer.status >= 500, answer.raw_body
    assert (ws.session(session_id).seq, store.read_channel_head(session_id, "es")) == before
    assert store.read_channel_head(session_id, "fr") == 0
    events = ws.http("GET", f"/sessions/{session_id}/events", query={"channel": "es", "sinceSeq": "0"})
    assert events.body["items"] == [], "no es event kept"
    wide = ws.http("GET", f"/sessions/{session_id}/events", query={"sinceSeq": str(before[0])})
    assert wide.body["items"] == [], "no session-wide event kept"
    assert broadcasts(ws, es) == []


def _queries_during(ws, act) -> list[dict]:
    """The parameters of every Query the handlers' store makes while `act()` runs."""
    sent: list[dict] = []
    events = ws.runtime.store.client.meta.events
    events.register("provide-client-params.dynamodb.Query", lambda params, **_: sent.append(params))
    try:
        act()
    finally:
        events.unregister("provide-client-params.dynamodb.Query")
    return sent


def _sort_key_bounds(query: dict) -> tuple[str, list[str]]:
    """(the partition key, the sort key values) a Query's key condition names."""
    values = {name: value["S"] for name, value in query["ExpressionAttributeValues"].items()}
    names = query["ExpressionAttributeNames"]
    pk_name = next(n for n, attribute in names.items() if attribute == keys.PK)
    condition = query["KeyConditionExpression"]
    pk_value = next(values[v] for v in values if f"{pk_name} = {v}" in condition)
    return pk_value, [value for name, value in values.items() if value != pk_value and name in condition]


def test_a_channel_fan_out_queries_only_that_channels_key_range_never_the_whole_session(ws, talk):
    session_id, speaker = talk
    for channel in CHANNELS:
        on(ws, session_id, channel)
    ws.connected(session_id)  # on no channel
    queries = _queries_during(ws, lambda: ws.act(speaker, "broadcast", data="hola", channel="es"))
    assert queries, "the fan-out reads its connections with a Query"
    for query in queries:
        partition, bounds = _sort_key_bounds(query)
        assert partition.startswith(keys.connections_partition(session_id, 0).rsplit("#", 1)[0]), query
        assert "begins_with" in query["KeyConditionExpression"] and bounds == [keys.channel_prefix("es")], query


def test_a_sharded_channel_broadcast_reaches_exactly_that_channels_listeners_once(ws, talk):
    from tests.ws.test_fanout_dispatch import LambdaClient, _shard_by

    session_id, speaker = talk
    es = [on(ws, session_id, "es") for _ in range(7)]
    others = [on(ws, session_id, "fr") for _ in range(4)] + [ws.connected(session_id) for _ in range(3)]
    client = LambdaClient()
    _shard_by(ws, client, threshold=3)  # 7 es listeners: 3 shards
    sent = ws.act(speaker, "broadcast", data="hola", channel="es")
    assert [invoke["job"]["shard"] for invoke in client.invokes] == [1, 2]
    assert {invoke["job"]["channel"] for invoke in client.invokes} == {"es"}, client.invokes[0]["job"]
    for invoke in client.invokes:  # what Lambda does a moment later
        ws.fanout_worker(invoke["job"])
    assert Counter(c for c in es for _ in broadcasts(ws, c)) == Counter(es)  # each es listener exactly once
    assert all(broadcasts(ws, c) == [("es", sent["seq"], "hola")] for c in es)
    assert not [c for c in [*others, speaker] if broadcasts(ws, c)]


@pytest.mark.parametrize(
    ("channels", "field"),
    [
        ([f"c{n}" for n in range(33)], "channels"),  # at most 32
        (["es", "Not A Name"], "channels[1]"),
        (["es", "es"], "channels"),  # each name once
    ],
)
def test_too_many_or_malformed_channels_are_refused_naming_the_field_at_create_and_at_patch(ws, talk, channels, field):
    session_id, _ = talk
    created = ws.http("POST", "/sessions", user="owner-1", body={"title": "Talk", "channels": channels})
    patched = ws.http("PATCH", f"/sessions/{session_id}", user="owner-1", body={"channels": channels})
    for answer in (created, patched):
        assert answer.status == 400, answer.raw_body
        assert (answer.body["error"]["code"], answer.body["error"]["field"]) == ("VALIDATION_ERROR", field)
    assert ws.session(session_id).channels == CHANNELS, "the PATCH changed nothing"
