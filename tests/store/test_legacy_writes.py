"""Records written by older code are not only readable but writable before any migration runs.

Every conditional write names canonical attributes (`status`, `maxListeners`); an unmigrated item lacks
them, so without care a legacy session would refuse every join as "full" and every pause as "changed
meanwhile": the field bug again. The store upgrades such an item (guarded on it being unchanged) and
starts the operation over. These tests put legacy items in the table raw, as the old code did.
"""

from __future__ import annotations

import pytest

from session_schema import codec, keys
from session_schema.errors import SessionEnded, SessionFull
from session_schema.models import Connection
from session_schema.status import ArtifactStatus, SessionStatus
from session_schema.storage import artifact_object_key

from tests.support.aws import TABLE_NAME
from tests.support.stream_writes import (
    append_message,
    broadcast,
    change_artifact_status,
    change_status,
    update_session,
)

SID = "quiet-river-482"
OWNER = "user-a"

LEGACY_SESSIONS = {
    # the old writer's wrapper, with the request ID in the session ID's place
    "data-wrapped": {
        "PK": f"SESSION#{SID}",
        "SK": "META",
        "Data": {"requestId": SID, "ownerId": OWNER, "isActive": True, "createdAt": 1},
    },
    # a boolean where the status belongs, and a stored limit
    "is-active": {
        "PK": f"SESSION#{SID}",
        "SK": "META",
        "sessionId": SID,
        "ownerId": OWNER,
        "isActive": True,
        "createdAt": 1,
        "maxListeners": 3,
    },
    # the canonical status, but no schemaVersion, no maxListeners, no listenerCount
    "no-version": {
        "PK": f"SESSION#{SID}",
        "SK": "META",
        "sessionId": SID,
        "ownerId": OWNER,
        "status": "active",
        "createdAt": 1,
    },
}


def put_raw(ddb, document) -> None:
    ddb.put_item(TableName=TABLE_NAME, Item=codec.serialize(document))


def stored(ddb, key) -> dict:
    return ddb.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(key), ConsistentRead=True)["Item"]


def listener(conn_id: str) -> Connection:
    return Connection(connectionId=conn_id, sessionId=SID, role="listener", connectedAt=1, expiresAt=2)


@pytest.fixture(params=sorted(LEGACY_SESSIONS))
def legacy(request, ddb):
    put_raw(ddb, LEGACY_SESSIONS[request.param])
    assert not codec.is_canonical(stored(ddb, keys.session_key(SID)))
    return request.param


def test_listeners_join_a_legacy_session_and_it_is_stored_canonically(store, ddb, legacy):
    store.register_connection(listener("conn-1"))
    store.register_connection(listener("conn-2"))  # the first join alone may not touch a missing limit
    session = store.get_session(SID, consistent=True)
    assert session.listenerCount == 2 and session.status is SessionStatus.ACTIVE
    item = stored(ddb, keys.session_key(SID))
    assert codec.is_canonical(item) and "Data" not in item and "isActive" not in item


def test_the_owner_joins_a_legacy_session_as_speaker(store, legacy):
    speaker = Connection(connectionId="conn-s", sessionId=SID, role="speaker", userId=OWNER, connectedAt=1, expiresAt=2)
    store.register_connection(speaker, owner_id=OWNER)
    assert store.get_session(SID, consistent=True).speakerConnectionId == "conn-s"


def test_a_legacy_session_can_be_paused_resumed_and_ended(store, legacy):
    before, after = change_status(store, SID, SessionStatus.PAUSED)
    assert (before.status, after.status) == (SessionStatus.ACTIVE, SessionStatus.PAUSED)
    change_status(store, SID, SessionStatus.ACTIVE)
    assert change_status(store, SID, SessionStatus.ENDED)[1].status is SessionStatus.ENDED


def test_a_legacy_session_takes_messages_broadcasts_and_edits(store, legacy):
    assert append_message(store, SID, OWNER, "hello")[0].text == "hello"
    assert broadcast(store, SID).seq == 2  # the message took seq 1
    assert update_session(store, SID, title="Renamed", muted=True)[1].title == "Renamed"


def test_a_legacy_listener_leaves_and_the_count_goes_back(store, ddb, legacy):
    store.register_connection(listener("conn-1"))
    assert store.unregister_connection("conn-1") is not None
    assert store.get_session(SID, consistent=True).listenerCount == 0


def test_the_legacy_limit_still_holds(store, ddb):
    put_raw(ddb, LEGACY_SESSIONS["is-active"])  # maxListeners 3
    for n in range(3):
        store.register_connection(listener(f"conn-{n}"))
    with pytest.raises(SessionFull):
        store.register_connection(listener("conn-3"))
    assert store.get_session(SID, consistent=True).listenerCount == 3


def test_a_legacy_inactive_session_is_refused_as_ended_not_full(store, ddb):
    put_raw(ddb, {**LEGACY_SESSIONS["is-active"], "isActive": False})
    with pytest.raises(SessionEnded) as refused:
        store.register_connection(listener("conn-1"))
    assert refused.value.actual_status == "ended"
    assert store.get_session(SID, consistent=True).listenerCount == 0


def test_a_legacy_artifact_moves_along_its_lifecycle(store, ddb):
    put_raw(ddb, LEGACY_SESSIONS["no-version"])
    artifact_id = "art_01J0000000000000000000000A"
    put_raw(
        ddb,
        {
            "PK": f"SESSION#{SID}",
            "SK": f"ART#{artifact_id}",
            "requestId": SID,  # the old writer's name for the session ID
            "artifactId": artifact_id,
            "ownerId": OWNER,
            "kind": "image",
            "contentType": "image/png",
            "fileName": "room.png",
            "objectKey": artifact_object_key(OWNER, SID, "image", artifact_id, "room.png"),
            "status": "PENDING",
            "createdAt": 1,
            "updatedAt": 1,
        },
    )
    after, claimed = change_artifact_status(store, SID, artifact_id, ArtifactStatus.PROCESSING)
    assert claimed.seq == 1
    assert after.status is ArtifactStatus.PROCESSING
    assert codec.is_canonical(stored(ddb, keys.artifact_key(SID, artifact_id)))


def test_the_upgrade_never_overwrites_a_concurrent_change(store, ddb, monkeypatch):
    """Between the refused write and the upgrade another writer changes the item: the upgrade yields."""
    put_raw(ddb, LEGACY_SESSIONS["is-active"])
    real_is_canonical = codec.is_canonical
    raced = []

    def racing(item):
        if not raced:
            raced.append(True)
            ddb.update_item(
                TableName=TABLE_NAME,
                Key=codec.serialize_key(keys.session_key(SID)),
                UpdateExpression="SET title = :t",
                ExpressionAttributeValues={":t": {"S": "changed meanwhile"}},
            )
        return real_is_canonical(item)

    monkeypatch.setattr(codec, "is_canonical", racing)
    store.register_connection(listener("conn-1"))  # refused, upgrade refused, retried, upgraded, joined
    session = store.get_session(SID, consistent=True)
    assert session.title == "changed meanwhile" and session.listenerCount == 1


def test_a_legacy_session_is_joinable_through_the_handlers(handlers, ddb):
    """The field bug end to end: a session the old code wrote, joined over WebSocket, paused over HTTP."""
    put_raw(ddb, LEGACY_SESSIONS["data-wrapped"])
    handshake = handlers.connect(SID)
    assert handshake.status == 200, handshake.error
    assert handlers.act(handshake.connection_id, "join")["session"]["listenerCount"] == 1
    paused = handlers.http("PATCH", f"/sessions/{SID}", user=OWNER, body={"status": "paused"})
    assert paused.status == 200 and paused.body["status"] == "paused", paused.raw_body
    posted = handlers.http("POST", f"/sessions/{SID}/messages", user=OWNER, body={"text": "still here"})
    assert posted.status == 201, posted.raw_body
