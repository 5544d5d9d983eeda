"""Stream records -> lifecycle events, with synthetic images: every event matches its published schema."""

from __future__ import annotations

import json

import pytest

from lifecycle_events.mapping import LifecycleEvent, events_of
from session_schema import codec, keys
from session_schema.errors import CorruptRecord
from session_schema.lifecycle import DetailType
from session_schema.models import Artifact, Session
from session_schema.status import ArtifactStatus, SessionStatus
from session_schema.storage import artifact_object_key

from tests.support.stream_records import NOW_S, assert_matches_schema, stream_record

SID, OWNER = "quiet-river-482", "alice"
ART = "art_01JABCDEFGHJKMNPQRSTVWXYZ0"


def session(**changes) -> Session:
    base = Session(sessionId=SID, ownerId=OWNER, maxListeners=10, epoch="ep1", createdAt=1_000, updatedAt=1_000)
    return base.model_copy(update=changes)


def artifact(**changes) -> Artifact:
    key = artifact_object_key(OWNER, SID, "image", ART, "slide.png")
    base = Artifact(
        artifactId=ART, sessionId=SID, ownerId=OWNER, kind="image", contentType="image/png", fileName="slide.png",
        objectKey=key, createdAt=1_000, updatedAt=1_000,
    )  # fmt: skip
    return base.model_copy(update=changes)


def announced(record) -> list[tuple[str, dict]]:
    """(detail-type, detail) of each event, each checked against its published schema."""
    events: list[LifecycleEvent] = events_of(record)
    out = []
    for event in events:
        detail = assert_matches_schema(event.detail_type.value, event.detail_json())
        out.append((event.detail_type.value, detail))
    return out


def types(record) -> list[str]:
    return [detail_type for detail_type, _ in announced(record)]


def test_a_created_session_is_announced_with_what_every_event_carries():
    record = stream_record(None, session(title="Keynote"))
    ((detail_type, detail),) = announced(record)
    assert detail_type == "Session Created"
    assert detail["sessionId"] == SID and detail["ownerId"] == OWNER and detail["title"] == "Keynote"
    assert detail["at"] == int(NOW_S * 1000)
    assert detail["sequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert detail["id"].startswith(record["eventID"])


def test_first_listener_in_occupies_and_last_out_vacates():
    assert types(stream_record(session(), session(listenerCount=1))) == ["Session Occupied"]
    assert types(stream_record(session(listenerCount=1), session(listenerCount=2))) == []
    assert types(stream_record(session(listenerCount=2), session(listenerCount=1))) == []
    ((_, vacated),) = announced(stream_record(session(listenerCount=1), session(listenerCount=0)))
    assert vacated["listenerCount"] == 0


def test_status_mute_and_title_changes_say_from_and_to():
    record = stream_record(session(), session(status=SessionStatus.PAUSED, muted=True, title="New"))
    ((detail_type, detail),) = announced(record)
    assert detail_type == "Session Updated"
    assert detail["changes"] == {
        "status": {"from": "active", "to": "paused"},
        "muted": {"from": False, "to": True},
        "title": {"from": "", "to": "New"},
    }


def test_an_end_is_session_ended_not_a_status_change():
    record = stream_record(session(listenerCount=0), session(status=SessionStatus.ENDED, endedAt=5_000))
    ((detail_type, detail),) = announced(record)
    assert (detail_type, detail["endedAt"]) == ("Session Ended", 5_000)


def test_one_record_announces_in_the_order_a_listener_would_tell_it():
    record = stream_record(
        session(listenerCount=2, channelCounts={"es": 2}),
        session(listenerCount=0, channelCounts={"es": 0}, status=SessionStatus.ENDED, endedAt=9, muted=True),
    )
    assert types(record) == ["Session Updated", "Channel Vacated", "Session Vacated", "Session Ended"]
    joined = stream_record(session(), session(listenerCount=1, channelCounts={"es": 1}, title="T"))
    assert types(joined) == ["Session Occupied", "Channel Occupied", "Session Updated"]


def test_channel_counts_crossing_zero_occupy_and_vacate_each_channel():
    record = stream_record(
        session(listenerCount=3, channelCounts={"es": 3, "fr": 0}),
        session(listenerCount=3, channelCounts={"es": 0, "fr": 2, "de": 1}),
    )
    events = announced(record)
    assert [(t, d["channel"], d["listenerCount"]) for t, d in events] == [
        ("Channel Occupied", "de", 1),
        ("Channel Occupied", "fr", 2),
        ("Channel Vacated", "es", 0),
    ]
    assert len({d["id"] for _, d in events}) == 3, "one id per change"


def test_channels_offered_are_a_session_update():
    record = stream_record(session(channels=["en"]), session(channels=["en", "es"]))
    ((_, detail),) = announced(record)
    assert detail["changes"] == {"channels": {"from": ["en"], "to": ["en", "es"]}}


def test_what_announces_nothing():
    ended = session(status=SessionStatus.ENDED, endedAt=9, expiresAt=10)
    assert types(stream_record(ended, None, ttl=True)) == [], "an ended session's TTL deletion"
    assert types(stream_record(artifact(), None)) == [], "a deletion"
    assert types(stream_record(session(), session(seq=7, updatedAt=2_000))) == [], "a stream publish moves seq"
    assert types(stream_record(session(), session(speakerConnectionId="abcDEF123="))) == []


def test_the_migrations_canonical_rewrite_of_a_legacy_item_announces_nothing():
    canonical = codec.encode(session(listenerCount=1))
    body = {k: v for k, v in canonical.items() if k not in ("PK", "SK", keys.KIND_ATTRIBUTE, "status")}
    legacy = {"PK": canonical["PK"], "SK": canonical["SK"], "Data": {"M": body}, "isActive": {"BOOL": True}}
    assert codec.decode(legacy) == codec.decode(canonical)
    assert types(stream_record(legacy, canonical)) == []


def test_an_upload_confirmed_is_artifact_uploaded_and_status_changes_are_artifact_updated():
    assert types(stream_record(None, artifact())) == [], "created, not yet uploaded"
    ((detail_type, uploaded),) = announced(stream_record(artifact(), artifact(uploadedAt=2_000)))
    assert (detail_type, uploaded["uploadedAt"], uploaded["artifactId"]) == ("Artifact Uploaded", 2_000, ART)
    failed = artifact(status=ArtifactStatus.FAILED, error="bad file")
    ((detail_type, updated),) = announced(stream_record(artifact(), failed))
    assert detail_type == "Artifact Updated" and updated["status"] == "failed"
    assert updated["changes"] == {
        "status": {"from": "pending", "to": "failed"},
        "error": {"from": None, "to": "bad file"},
    }


def test_the_same_record_gives_the_same_ids_on_a_retry():
    record = stream_record(session(), session(listenerCount=1, status=SessionStatus.PAUSED))
    first, again = announced(record), announced(json.loads(json.dumps(record)))
    assert [d["id"] for _, d in first] == [d["id"] for _, d in again]


def test_an_image_the_schema_cannot_read_is_an_error_not_silence():
    bad = codec.encode(session())
    bad["maxListeners"] = {"N": "0"}
    with pytest.raises(CorruptRecord):
        events_of(stream_record(codec.encode(session()), bad))


def test_every_detail_type_has_a_schema_and_is_reachable_here():
    seen = set()
    for record in (
        stream_record(None, session()),
        stream_record(session(), session(listenerCount=1, channelCounts={"es": 1}, muted=True)),
        stream_record(session(listenerCount=1, channelCounts={"es": 1}), session(status=SessionStatus.ENDED)),
        stream_record(artifact(), artifact(uploadedAt=5, status=ArtifactStatus.PROCESSING)),
    ):
        seen |= set(types(record))
    assert seen == {t.value for t in DetailType}
