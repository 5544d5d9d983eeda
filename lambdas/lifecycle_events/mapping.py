"""One stream record of the table -> the lifecycle events it announces (none for most).

Pure: images are decoded by the schema's codec (which knows every shape ever stored), compared, and each
difference that matters becomes an event. A record announces nothing when:
  * it is a removal (an ended session's TTL deletion, marked as the service's own, or any other delete);
  * its images decode to the same record (the migration's canonical rewrite of a legacy item, a seq move);
  * it changes nothing an event is about (a speaker joining, a stream publish's seq).
A keynote session (seats on seat shards) is occupied and vacated by its occupancy item, never by its session
item's counts: a seat shard's record announces nothing itself, but when its counts cross zero (`crossing_of`) the
function settles the occupancy item (session_store/occupancy_ledger.py), whose own record is then announced.
Within one record the events come in the order a listener would tell them: created, occupied (session,
then channels), updated, vacated (channels, then session), ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from session_schema import codec
from session_schema.errors import CorruptRecord
from session_schema.lifecycle import (
    TTL_PRINCIPAL,
    ArtifactChanges,
    ArtifactUpdated,
    ArtifactUploaded,
    ChannelOccupancy,
    DetailType,
    LifecycleDetail,
    Occupancy,
    SessionChanges,
    SessionCreated,
    SessionEnded,
    SessionUpdated,
)
from session_schema.models import Artifact, Record, SeatShard, Session, SessionOccupancy
from session_schema.status import SessionStatus

StreamRecord = Mapping[str, Any]  # one element of the event source mapping's `Records`
Counts = tuple[int, Mapping[str, int]]  # listeners, and per channel


@dataclass(frozen=True)
class LifecycleEvent:
    detail_type: DetailType
    detail: LifecycleDetail

    def detail_json(self) -> str:
        return self.detail.model_dump_json(by_alias=True, exclude_unset=True)


@dataclass(frozen=True)
class _Stamp:
    """What every event of one record carries: where in the stream, and when."""

    event_id: str
    sequence_number: str
    at: int

    def fields(
        self, detail_type: DetailType, record: Session | Artifact | SessionOccupancy, *qualifiers: str
    ) -> dict[str, Any]:
        slug = "-".join(detail_type.value.lower().split())
        return {
            "id": ":".join((self.event_id, slug, *qualifiers)),
            "sessionId": record.sessionId,
            "ownerId": record.ownerId,
            "at": self.at,
            "sequenceNumber": self.sequence_number,
        }


def is_service_removal(record: StreamRecord) -> bool:
    """DynamoDB's own deletion of an expired item (TTL): `userIdentity` names the service."""
    identity = record.get("userIdentity") or {}
    return identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL


def events_of(record: StreamRecord) -> list[LifecycleEvent]:
    """The events one stream record announces, in order. Raises CorruptRecord for an image the schema
    cannot read (the batch stops there: retried, then its pointers go to the dead-letter queue)."""
    if is_service_removal(record) or record.get("eventName") not in ("INSERT", "MODIFY"):
        return []
    stream = record["dynamodb"]
    new = codec.decode(stream["NewImage"])
    old = codec.decode(stream["OldImage"]) if "OldImage" in stream else None
    if old is not None and type(old) is not type(new):
        raise CorruptRecord(f"a {type(old).__name__} item became a {type(new).__name__}")
    if old == new:
        return []
    stamp = _Stamp(
        event_id=str(record["eventID"]),
        sequence_number=str(stream["SequenceNumber"]),
        at=int(float(stream["ApproximateCreationDateTime"]) * 1000),
    )
    if isinstance(new, Session):
        return _session_events(stamp, _as(old, Session), new)
    if isinstance(new, Artifact):
        return _artifact_events(stamp, _as(old, Artifact), new)
    if isinstance(new, SessionOccupancy):
        return _occupancy_events(stamp, _as(old, SessionOccupancy), new)
    return []  # a seat shard (see `crossing_of`), another kind (the filter lets none through): nothing to announce


def crossing_of(record: StreamRecord) -> str | None:
    """The keynote session whose occupancy item to settle, when this record is one of its counts (a seat shard's
    total or a channel's, or the session item's own, which code before seat shards may move during a deploy)
    crossing zero; None for any other record."""
    if record.get("eventName") != "MODIFY" or is_service_removal(record):
        return None
    stream = record["dynamodb"]
    if "OldImage" not in stream or "NewImage" not in stream:
        return None
    old, new = _counts(codec.decode(stream["OldImage"])), _counts(codec.decode(stream["NewImage"]))
    if old is None or new is None:
        return None
    (was_total, was_per_channel), (now_total, now_per_channel) = old[1], new[1]
    crossed = (was_total == 0) != (now_total == 0) or any(
        (was_per_channel.get(name, 0) == 0) != (now_per_channel.get(name, 0) == 0)
        for name in {*was_per_channel, *now_per_channel}
    )
    return new[0] if crossed else None


def _counts(record: Record) -> tuple[str, Counts] | None:
    """(session ID, counts) of a keynote session's count holder: a seat shard, or its session item."""
    if isinstance(record, SeatShard):
        return record.sessionId, (record.count, record.channelCounts)
    if isinstance(record, Session) and record.seatShards:
        return record.sessionId, (record.listenerCount, record.channelCounts or {})
    return None


def _as(record: Record | None, model: type[Session] | type[Artifact] | type[SessionOccupancy]) -> Any:
    return record if isinstance(record, model) else None


def _changed(pairs: Mapping[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    """{field: {"from", "to"}} for each (old, new) pair that differs (validated by the changes model)."""
    return {name: {"from": old, "to": new} for name, (old, new) in pairs.items() if old != new}


def _session_changes(old: Session, new: Session) -> SessionChanges | None:
    """What an update changed; an end is `Session Ended`, not a status change."""
    changed = _changed(
        {
            "status": (old.status, old.status if new.status == SessionStatus.ENDED else new.status),
            "muted": (old.muted, new.muted),
            "title": (old.title, new.title),
            "channels": (old.channels or [], new.channels or []),
        }
    )
    return SessionChanges.model_validate(changed) if changed else None


def _session_events(stamp: _Stamp, old: Session | None, new: Session) -> list[LifecycleEvent]:
    events: list[LifecycleEvent] = []

    def add(detail_type: DetailType, detail: LifecycleDetail) -> None:
        events.append(LifecycleEvent(detail_type, detail))

    if old is None:
        add(
            DetailType.SESSION_CREATED,
            SessionCreated(
                **stamp.fields(DetailType.SESSION_CREATED, new),
                title=new.title,
                status=new.status,
                maxListeners=new.maxListeners,
                sourceLanguage=new.sourceLanguage,
                channels=new.channels or [],
                createdAt=new.createdAt,
            ),
        )
    changes = _session_changes(old, new) if old is not None else None
    updated = (
        [
            LifecycleEvent(
                DetailType.SESSION_UPDATED,
                SessionUpdated(**stamp.fields(DetailType.SESSION_UPDATED, new), changes=changes),
            )
        ]
        if changes is not None
        else []
    )
    if new.seatShards:  # a keynote session: its occupancy item announces occupied/vacated
        events += updated
    else:
        was = (old.listenerCount, old.channelCounts or {}) if old is not None else (0, {})
        events += _occupancy_moves(stamp, new, was, (new.listenerCount, new.channelCounts or {}), updated)
    if old is not None and old.status != SessionStatus.ENDED and new.status == SessionStatus.ENDED:
        add(DetailType.SESSION_ENDED, SessionEnded(**stamp.fields(DetailType.SESSION_ENDED, new), endedAt=new.endedAt))
    return events


def _occupancy_events(stamp: _Stamp, old: SessionOccupancy | None, new: SessionOccupancy) -> list[LifecycleEvent]:
    was = (old.occupiedListeners, old.occupiedChannels) if old is not None else (0, {})
    return _occupancy_moves(stamp, new, was, (new.occupiedListeners, new.occupiedChannels), [])


def _occupancy_moves(
    stamp: _Stamp, record: Session | SessionOccupancy, was: Counts, now: Counts, between: list[LifecycleEvent]
) -> list[LifecycleEvent]:
    """Occupied (session, then channels), `between`, vacated (channels, then session): the counts crossing zero."""
    (was_total, was_per_channel), (now_total, now_per_channel) = was, now
    events: list[LifecycleEvent] = []

    def occupancy(detail_type: DetailType) -> None:
        events.append(
            LifecycleEvent(detail_type, Occupancy(**stamp.fields(detail_type, record), listenerCount=now_total))
        )

    def channel(detail_type: DetailType, name: str) -> None:
        count = now_per_channel.get(name, 0)
        detail = ChannelOccupancy(**stamp.fields(detail_type, record, name), channel=name, listenerCount=count)
        events.append(LifecycleEvent(detail_type, detail))

    if was_total == 0 < now_total:
        occupancy(DetailType.SESSION_OCCUPIED)
    for name in sorted(now_per_channel):
        if was_per_channel.get(name, 0) == 0 < now_per_channel[name]:
            channel(DetailType.CHANNEL_OCCUPIED, name)
    events += between
    for name in sorted(was_per_channel):
        if was_per_channel[name] > 0 == now_per_channel.get(name, 0):
            channel(DetailType.CHANNEL_VACATED, name)
    if was_total > 0 == now_total:
        occupancy(DetailType.SESSION_VACATED)
    return events


def _artifact_events(stamp: _Stamp, old: Artifact | None, new: Artifact) -> list[LifecycleEvent]:
    events: list[LifecycleEvent] = []
    if new.uploadedAt is not None and (old is None or old.uploadedAt is None):
        events.append(
            LifecycleEvent(
                DetailType.ARTIFACT_UPLOADED,
                ArtifactUploaded(
                    **stamp.fields(DetailType.ARTIFACT_UPLOADED, new),
                    artifactId=new.artifactId,
                    kind=new.kind,
                    contentType=new.contentType,
                    fileName=new.fileName,
                    objectKey=new.objectKey,
                    uploadedAt=new.uploadedAt,
                ),
            )
        )
    if old is not None:
        changed = _changed({"status": (old.status, new.status), "error": (old.error, new.error)})
        if changed:
            events.append(
                LifecycleEvent(
                    DetailType.ARTIFACT_UPDATED,
                    ArtifactUpdated(
                        **stamp.fields(DetailType.ARTIFACT_UPDATED, new),
                        artifactId=new.artifactId,
                        kind=new.kind,
                        status=new.status,
                        changes=ArtifactChanges.model_validate(changed),
                    ),
                )
            )
    return events
