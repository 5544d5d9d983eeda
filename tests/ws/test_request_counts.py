"""DynamoDB requests per WebSocket operation, counted at the botocore layer of the handler's own client.

The contract pins one number: an anonymous listener's `$connect` is ONE request (the transaction that
checks the session and registers the connection). The others are pinned too, so a change that adds a
read to a hot path shows up here as a deliberate edit, not as a surprise on the bill.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from session_schema import keys
from session_store.store import READ_LEGACY_CONNECTION_KEYS

# A read of a session's connections: its partition, and in the deploy window the range older code wrote.
FANOUT_QUERIES = 1 + int(READ_LEGACY_CONNECTION_KEYS)


@pytest.fixture
def requests(dynamodb_requests):
    """`with requests() as counted:` counts only the requests made inside the block."""

    @contextmanager
    def counting():
        dynamodb_requests.clear()
        yield dynamodb_requests

    return counting


def test_an_anonymous_listener_connect_is_exactly_one_transaction(ws, requests):
    session_id = ws.create_session().sessionId
    with requests() as counted:
        assert ws.connect(session_id).status == 200
    assert counted == {"TransactWriteItems": 1}


# operation -> the exact DynamoDB requests it makes (with two listeners and a speaker connected)
EXPECTED = {
    "connect: owner (speaker)": {"TransactWriteItems": 1},
    "connect: another user's token (speaker try, then listener)": {"TransactWriteItems": 2},
    "connect: refused (unknown session)": {"TransactWriteItems": 1},
    "connect: refused (malformed ID)": {},
    "ping": {},
    "bad frame": {},
    # A listener's join is a presence change (session_runtime/conflation.py): 1 UpdateItem records it in the
    # session's notice slot; the first change of a second claims the slot (1 UpdateItem) and sends the notice: the
    # session read strongly (the counts as they are now), the speaker's connection (its protocol version) and the
    # members (1 Query, below PRESENCE_MEMBERS_MAX). Here the session's first change: the slot is new, so its
    # record is 2 UpdateItem (the path into the map it has not got yet is refused; then the map is put whole).
    "join (listener)": {"GetItem": 4, "UpdateItem": 3, "Query": 1},
    # a listener's history reads the session (joinable? once ended, messages are the owner's alone)
    "history (listener)": {"GetItem": 2, "Query": 1},
    "history (speaker)": {"GetItem": 1, "Query": 1},
    # A speaker action is 1 GetItem (the caller's connection: who may act) + 1 strongly consistent GetItem of the
    # stream's head (the session item: it also judges the change, and the speaker check) + ONE TransactWriteItems
    # that moves the head's seq conditional on the seq read (and on the states it may come from and the caller
    # still being the session's speaker connection) and keeps its event(s) and its own items (a message) + the
    # fan-out's Query. A broadcast: 3 DynamoDB requests besides the fan-out's pages.
    "broadcast": {"GetItem": 2, "TransactWriteItems": 1, "Query": FANOUT_QUERIES},
    "sendMessage": {"GetItem": 2, "TransactWriteItems": 1, "Query": FANOUT_QUERIES},
    "pause": {"GetItem": 2, "TransactWriteItems": 1, "Query": FANOUT_QUERIES},
    "mute": {"GetItem": 2, "TransactWriteItems": 1, "Query": FANOUT_QUERIES},
    # refused at the head it read: no write
    "replaced speaker forbidden (pause)": {"GetItem": 2},
    "listener forbidden (pause)": {"GetItem": 1},
    # a leave within the second of the last notice: recorded in the slot, and a trailing notice scheduled (1
    # UpdateItem marks it; the notice queue's message, not counted here, sends it: as the join's claim and send)
    "disconnect: listener": {"GetItem": 2, "TransactWriteItems": 1, "UpdateItem": 2},
    # Presence data: the caller, its member item updated, the session read (to size the notice), the change
    # recorded in the members slot (its trailing notice marked by the leave already). Never the session item, nor
    # is a reaction's write (test below).
    "setPresence": {"GetItem": 2, "UpdateItem": 2},
    # A reaction: the caller's connection, then its count ADDed into the session's reactions slot (a new slot: the
    # map's path refused, then the map put), claimed (1 UpdateItem) and sent: the session read strongly and the
    # speaker's connection (its protocol version).
    "react (the session's first)": {"GetItem": 3, "UpdateItem": 3},
    # within the second: the ADD, and the trailing notice marked once (1 UpdateItem); then the ADD alone
    "react (within the second)": {"GetItem": 1, "UpdateItem": 2},
    "react (trailing notice marked)": {"GetItem": 1, "UpdateItem": 1},
    "end": {"GetItem": 2, "TransactWriteItems": 1, "Query": FANOUT_QUERIES},
    # after `end` the session part of the leave no longer applies: the store retries with the deletes only
    "disconnect: speaker (session ended)": {"GetItem": 2, "TransactWriteItems": 2},
}


def test_requests_per_operation(ws, live, requests):
    store = ws.runtime.store
    frozen = store.clock()
    store.clock = lambda: frozen  # every presence change but the first falls within its second: conflated
    ws.runtime.notice_scheduler.immediate = False
    listener = ws.connected(live.session_id)
    second = ws.connected(live.session_id)
    speaker = {"current": live.speaker}

    def owner_connects():  # a second tab of the owner: it takes over as the speaker
        speaker["current"] = ws.connect(live.session_id, user=live.owner).connection_id

    operations = {
        "connect: owner (speaker)": owner_connects,
        "connect: another user's token (speaker try, then listener)": lambda: ws.connect(live.session_id, user="guest"),
        "connect: refused (unknown session)": lambda: ws.connect("quiet-river-000"),
        "connect: refused (malformed ID)": lambda: ws.connect("nope"),
        "ping": lambda: ws.act(listener, "ping"),
        "bad frame": lambda: ws.send(listener, "{not json", route_key="$default"),
        "join (listener)": lambda: ws.act(listener, "join"),
        "history (listener)": lambda: ws.act(listener, "history"),
        "history (speaker)": lambda: ws.act(speaker["current"], "history"),
        "broadcast": lambda: ws.act(speaker["current"], "broadcast", data=1),
        "sendMessage": lambda: ws.act(speaker["current"], "sendMessage", text="hi"),
        "pause": lambda: ws.act(speaker["current"], "pause"),
        "mute": lambda: ws.act(speaker["current"], "mute"),
        "replaced speaker forbidden (pause)": lambda: ws.act(live.speaker, "pause"),
        "listener forbidden (pause)": lambda: ws.act(listener, "pause"),
        "disconnect: listener": lambda: ws.disconnect(second),
        "setPresence": lambda: ws.act(listener, "setPresence", data={"hand": True}),
        "react (the session's first)": lambda: ws.act(listener, "react", reaction="👏", id="1"),
        "react (within the second)": lambda: ws.act(listener, "react", reaction="👏", id="2"),
        "react (trailing notice marked)": lambda: ws.act(listener, "react", reaction="🎉", id="3"),
        "end": lambda: ws.act(speaker["current"], "end"),
        # the session is no longer joinable, so nobody is told (no Query)
        "disconnect: speaker (session ended)": lambda: ws.disconnect(speaker["current"]),
    }
    measured = {}
    for name, operation in operations.items():
        with requests() as counted:
            operation()
        measured[name] = dict(counted)
    assert measured == EXPECTED


WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"})


def test_reactions_and_presence_data_never_write_the_session_item(ws, live):
    """The issue's rule: presence and reactions write per frame only what their guarantee needs, and never the
    session item a keynote keeps cool: only their conflation slots (`NOTICE#`) and the members (`PRESENCE#`)."""
    written: list[str] = []

    def record(params, model, **kwargs):
        if model.name not in WRITES:
            return
        requests = [params, *(next(iter(item.values())) for item in params.get("TransactItems", []))]
        written.extend(request["Key" if "Key" in request else "Item"][keys.PK]["S"] for request in requests)

    events = ws.runtime.store.client.meta.events
    listener = ws.connected(live.session_id)
    events.register("before-parameter-build.dynamodb", record, unique_id="ws-written-partitions")
    try:
        for k in range(3):
            ws.act(listener, "react", reaction="👏", id=str(k))
            ws.act(listener, "setPresence", data={"k": k})
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="ws-written-partitions")
    sid = live.session_id
    assert set(written) == {f"NOTICE#{sid}", f"PRESENCE#{sid}"}
    assert keys.session_key(sid)[keys.PK] not in written


def test_a_speaker_leaving_a_live_session_adds_one_query_for_the_listeners(ws, live, requests):
    ws.connected(live.session_id)
    with requests() as counted:
        ws.disconnect(live.speaker)
    # the speaker's leave is a presence change too (the session's first: a new slot, 2 UpdateItem) and claimed (1),
    # its notice reading the session and the members (the speaker is gone: nobody to tell)
    assert counted == {"GetItem": 3, "TransactWriteItems": 1, "UpdateItem": 3, "Query": FANOUT_QUERIES + 1}


def test_the_sweep_queries_each_index_shard_then_ends_with_one_write_and_keeps_its_events(ws, requests):
    from connection_handler.sweep import sweep

    store = ws.runtime.store
    real = store.clock
    store.clock = lambda: real() - 3_600_000
    ws.create_session()
    store.clock = real
    with requests() as counted:
        assert len(sweep(ws.runtime)["ended"]) == 1
    # Each shard of the connection index (ghosts), of the speakerless index and of the sessions-with-connections
    # index (half registrations; this session never had one), once; the speakerless session's count check (GetItem
    # + Query of its connections); its end (the head read, then one transaction that moves the head and keeps the
    # end's two stream events) and the fan-out's Query; then each shard of the awaiting-upload and retiring
    # indexes once (the session just ended retires in 30 days: nothing more).
    index_shards = keys.CONNECTED_SHARDS + keys.SPEAKERLESS_SHARDS + keys.OCCUPIED_SHARDS
    index_shards += keys.AWAITING_UPLOAD_SHARDS + keys.RETIRING_SHARDS
    assert counted == {
        "Query": index_shards + 2 * FANOUT_QUERIES,
        "GetItem": 2,
        "TransactWriteItems": 1,
    }
