"""The one codec between records and DynamoDB items.

`encode` writes the canonical shape only: keys derived from `keys`, a `kind` tag, the model's fields; a record whose
keys say some of its fields (a connection's entry in its session, which every fan-out reads) compact: its keys and
the fields that differ from their defaults.
`decode` reads canonical items and every legacy shape older code wrote, normalizing them:
  * an item whose fields sit inside a `Data` map is unwrapped;
  * `requestId` where `sessionId` belongs is renamed;
  * `isActive: true/false` without `status` becomes `status: active/ended`;
  * a missing `schemaVersion` is the current one;
  * a session without a stream `epoch` gets one derived from its ID and creation time (stable across reads);
  * a connection's entry written whole (code before compact entries) keeps only the entry's own fields.
  * a result artifact written before its record carried `rootKind` and `ancestorIds` gets them from its key.
Nothing else in the code base reads or builds an item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import ValidationError

from . import keys, storage
from .errors import CorruptRecord
from .ids import legacy_epoch
from .models import (
    SCHEMA_VERSION,
    Artifact,
    Ban,
    ChannelHead,
    Connection,
    ConnectionEntry,
    ConnectionTarget,
    IdempotencyRecord,
    Message,
    NoticeSlot,
    PresenceMember,
    Record,
    SeatShard,
    Session,
    SessionOccupancy,
    StreamEvent,
)
from .status import ArtifactStatus, SessionStatus

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]
R = TypeVar("R", bound=Record)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

KIND_OF: dict[type[Record], str] = {
    Session: "session",
    Connection: "connection",
    ConnectionEntry: "connectionEntry",
    Message: "message",
    Artifact: "artifact",
    IdempotencyRecord: "idempotency",
    StreamEvent: "streamEvent",
    ChannelHead: "channelHead",
    PresenceMember: "presenceMember",
    Ban: "ban",
    NoticeSlot: "noticeSlot",
    SeatShard: "seatShard",
    SessionOccupancy: "occupancy",
}
MODEL_OF: dict[str, type[Record]] = {kind: model for model, kind in KIND_OF.items()}
# Where a lookup item says its connection item is: derived from the connection's own fields, never a field.
CONNECTION_KEY_ATTRIBUTE = "connectionKey"
_KEY_ATTRIBUTES = frozenset(keys.TABLE.key_attributes()) | {keys.KIND_ATTRIBUTE, CONNECTION_KEY_ATTRIBUTE}
LEGACY_WRAPPER = "Data"  # the map older code kept an item's fields in
LEGACY_DEFAULT_MAX_LISTENERS = 100  # what the old code enforced when it stored no limit


# ---------------------------------------------------------------- encode


def key_of(record: Record) -> dict[str, str]:
    """Primary key of the item a record is stored as (a connection whole: its lookup item; its entry: the item in its
    session's connection partition)."""
    match record:
        case Session():
            return keys.session_key(record.sessionId)
        case Connection():
            return keys.connection_lookup_key(record.connectionId)
        case ConnectionEntry():
            return connection_item_key(record)
        case Message():
            return keys.message_key(record.sessionId, record.createdAt, record.messageId)
        case Artifact():
            return keys.artifact_key(record.sessionId, record.artifactId, record.rootId)
        case IdempotencyRecord():
            return keys.idempotency_key(record.ownerId, record.key)
        case StreamEvent():
            if record.channel is not None:
                return keys.channel_event_key(record.sessionId, record.channel, record.seq)
            return keys.stream_event_key(record.sessionId, record.seq)
        case ChannelHead():
            return keys.channel_head_key(record.sessionId, record.channel)
        case PresenceMember():
            return keys.member_key(record.sessionId, record.connectionId)
        case Ban():
            return keys.ban_key(record.sessionId, record.subject)
        case NoticeSlot():
            return keys.notice_key(record.sessionId, record.kind)
        case SeatShard():
            return keys.seat_shard_key(record.sessionId, record.shard)
        case SessionOccupancy():
            return keys.occupancy_key(record.sessionId)
    raise TypeError(f"not a record: {type(record).__name__}")


def connection_item_key(connection: ConnectionEntry) -> dict[str, str]:
    """Where a connection's item in its session is: under its partition and channel, or (registered by code before
    channels: no `partition`) under the old key."""
    if connection.partition is None:
        return keys.legacy_connection_key(connection.sessionId, connection.connectionId)
    return keys.connection_key(connection.sessionId, connection.connectionId, connection.channel, connection.partition)


def _index_keys(record: Record) -> dict[str, str]:
    if isinstance(record, Session):
        index = keys.user_sessions_index_key(record.ownerId, record.createdAt, record.sessionId)
        if record.joinable and record.speakerlessSince is not None and record.speakerConnectionId is None:
            index |= keys.speakerless_index_key(record.sessionId, record.speakerlessSince)
        if record.status is SessionStatus.ENDED and record.expiresAt is not None:
            # Listed for the sweep, which purges its data (objects too) when its retention ends.
            index |= keys.retiring_index_key(record.sessionId, record.expiresAt)
        if record.lastRegisteredAt is not None:
            index |= keys.occupied_index_key(record.sessionId)
        return index
    if isinstance(record, Connection):
        # Listed by age for the sweep that finds the ones API Gateway no longer has (ghosts).
        return keys.connected_index_key(record.connectionId, record.connectedAt)
    if isinstance(record, Artifact) and record.status is ArtifactStatus.PENDING and record.etag is None:
        # Listed for the sweep until storage confirms its upload (or the sweep fails it): any status move or
        # a recorded etag takes it out (`_DERIVED`).
        return keys.awaiting_upload_index_key(record.sessionId, record.artifactId, record.createdAt)
    return {}


def to_document(record: Record) -> dict[str, Any]:
    """The canonical item as plain Python values (keys included). A record whose keys say some of its fields
    (`Record.KEY_FIELDS`) is written compact: the keys and the fields that differ from their defaults, nothing else
    (`normalize` reads the rest back)."""
    said_by_keys = type(record).KEY_FIELDS
    if said_by_keys:
        body = record.model_dump(mode="json", exclude_defaults=True, exclude=set(said_by_keys))
        return {**key_of(record), **body}
    body = record.model_dump(mode="json", exclude_none=True)
    document = {**key_of(record), **_index_keys(record), keys.KIND_ATTRIBUTE: KIND_OF[type(record)], **body}
    if isinstance(record, Connection) and record.partition is not None:
        # Where its entry is (absent: the old key; lookups older code wrote have none).
        document[CONNECTION_KEY_ATTRIBUTE] = connection_item_key(record)
    return document


def serialize(document: Mapping[str, Any]) -> Item:
    return {name: _serializer.serialize(value) for name, value in document.items()}


def serialize_key(key: Mapping[str, str]) -> Item:
    return {name: {"S": value} for name, value in key.items()}


def encode(record: Record) -> Item:
    return serialize(to_document(record))


def legacy_connection_item(connection: Connection) -> Item:
    """A connection's item in its session as code before compact entries wrote it: the whole record, tagged, under
    `connection_item_key`. Never written any more (tests and benches write it as the old code did); read, normalized
    to its entry, until such items expire; still the canonical shape under the key code before channels used."""
    document = {
        **connection_item_key(connection),
        keys.KIND_ATTRIBUTE: KIND_OF[Connection],
        **connection.model_dump(mode="json", exclude_none=True),
    }
    return serialize(document)


def value(python_value: Any) -> AttributeValue:
    """One attribute value as the codec writes it (for condition and update expressions)."""
    if hasattr(python_value, "value") and isinstance(python_value.value, str):  # enums are stored as values
        python_value = python_value.value
    serialized: AttributeValue = _serializer.serialize(python_value)  # boto3's TypeSerializer is untyped
    return serialized


@dataclass
class Changes:
    """SET and REMOVE parts of an UpdateItem that brings an item to `encode(after)` for some fields."""

    set: dict[str, AttributeValue] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)


# Index keys and TTL derive from fields; changing a field must rewrite what derives from it. GSI2 derives from
# these: a session's speakerless index from its status, speaker and clock, an artifact's awaiting-upload index
# from its status and etag, by the rules `_index_keys` applies.
_GSI2_KEYS = (keys.GSI2PK, keys.GSI2SK)
_OCCUPIED_INDEX = (keys.GSI3PK, keys.GSI3SK)
_DERIVED: dict[str, tuple[str, ...]] = {
    "status": _GSI2_KEYS,
    "speakerlessSince": _GSI2_KEYS,
    "speakerConnectionId": _GSI2_KEYS,
    "etag": _GSI2_KEYS,
    "expiresAt": _GSI2_KEYS,
    "lastRegisteredAt": _OCCUPIED_INDEX,
}


SEQ_ONLY: Final = "seqOnly"


def session_write(change: Changes) -> Changes:
    """`change` of the session item as written: unless it marks itself a publish that moves only `seq`, it also
    removes that mark, so the lifecycle stream filter (lifecycle.STREAM_FILTER_PATTERNS) passes it."""
    if SEQ_ONLY in change.set or SEQ_ONLY in change.remove:
        return change
    return Changes(set=dict(change.set), remove=[*change.remove, SEQ_ONLY])


def connection_registers(session_id: str, now_ms: int) -> Changes:
    """Any connection registering: the session is listed for the sweep's check of its connections (GSI3)."""
    return Changes(set={"lastRegisteredAt": value(now_ms), **serialize(keys.occupied_index_key(session_id))})


def sweep_found_no_connection() -> Changes:
    """The sweep found no connection registered: the session leaves its list until the next registration."""
    return Changes(remove=["lastRegisteredAt", *_OCCUPIED_INDEX])


def speaker_joins(session_id: str, connection_id: str, now_ms: int) -> Changes:
    """A speaker connection taking a joinable session (a write that does not read it): no speakerless clock,
    so no speakerless index keys (`_index_keys`' rule); registered, as any connection."""
    registers = connection_registers(session_id, now_ms)
    return Changes(
        set={"speakerConnectionId": value(connection_id), **registers.set},
        remove=["speakerlessSince", *_GSI2_KEYS],
    )


def speaker_leaves(session_id: str, now_ms: int) -> Changes:
    """The speaker connection leaving a joinable session: its speakerless clock starts now, indexed in GSI2."""
    index = keys.speakerless_index_key(session_id, now_ms)
    return Changes(set={"speakerlessSince": value(now_ms), **serialize(index)}, remove=["speakerConnectionId"])


def connection_moves(moved: ConnectionEntry) -> Changes:
    """A connection's lookup item, pointed at where `moved` (another channel, or the new keys) puts its item."""
    change = Changes(
        set={"partition": value(moved.partition), CONNECTION_KEY_ATTRIBUTE: value(connection_item_key(moved))}
    )
    if moved.channel is None:
        change.remove.append("channel")
    else:
        change.set["channel"] = value(moved.channel)
    return change


def changes(after: Record, fields: Iterable[str]) -> Changes:
    """What to SET and REMOVE so the stored item matches `encode(after)` on `fields` (and derived keys)."""
    model_fields = type(after).model_fields
    target = encode(after)
    names: list[str] = []
    for name in fields:
        if name not in model_fields:
            raise KeyError(f"{type(after).__name__} has no field {name}")
        names += [name, *_DERIVED.get(name, ())]
    result = Changes()
    for name in dict.fromkeys(names):
        if name in target:
            result.set[name] = target[name]
        else:
            result.remove.append(name)
    return result


def with_derived_keys(change: Changes, after: Record) -> Changes:
    """`change` (a `partial_changes`), with the index keys derived from the fields it sets or removes brought to
    what `after` (the record as the write leaves it) derives: SET when it has them, else REMOVE."""
    touched = [*change.set, *change.remove]
    derived = dict.fromkeys(name for touched_name in touched for name in _DERIVED.get(touched_name, ()))
    if not derived:
        return change
    target = _index_keys(after)
    for name in derived:
        if name in target:
            change.set[name] = value(target[name])
            change.remove = [removed for removed in change.remove if removed != name]
        elif name not in change.remove:
            change.remove.append(name)
    return change


def partial_changes(model: type[Record], values: Mapping[str, Any], remove: Iterable[str] = ()) -> Changes:
    """SET `values` and REMOVE `remove` (with what derives from them) on a `model` item that was not read.

    For writes that let their condition judge the item instead of reading it first; every name must be a
    field of the model, so a misspelt attribute cannot be written."""
    fields = model.model_fields
    result = Changes()
    for name, python_value in values.items():
        if name not in fields:
            raise KeyError(f"{model.__name__} has no field {name}")
        result.set[name] = value(python_value)
    for name in remove:
        if name not in fields:
            raise KeyError(f"{model.__name__} has no field {name}")
        result.remove += [name, *_DERIVED.get(name, ())]
    return result


# ---------------------------------------------------------------- decode


def deserialize(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(av)) for name, av in item.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, set, frozenset)):
        return [_plain(x) for x in v]
    return v


def _kind_of(document: Mapping[str, Any]) -> str | None:
    pk, sk = str(document.get(keys.PK, "")), str(document.get(keys.SK, ""))
    if pk.startswith(keys.CONNS_PREFIX):  # compact (no tag), or whole as code before compact entries wrote it
        return "connectionEntry"
    kind = document.get(keys.KIND_ATTRIBUTE)
    if isinstance(kind, str) and kind in MODEL_OF:
        return kind
    if pk.startswith(keys.IDEMPOTENCY_PREFIX):
        return "idempotency"
    if pk.startswith(keys.SEATS_PREFIX):
        return "seatShard"
    if pk.startswith((keys.CONN_PREFIX, keys.CONNS_PREFIX)) or sk.startswith(keys.CONN_PREFIX):
        return "connection"
    if sk == keys.OCCUPANCY:
        return "occupancy"
    if sk.startswith(keys.HEAD_PREFIX):
        return "channelHead"
    if sk.startswith(keys.MSG_PREFIX):
        return "message"
    if sk.startswith((keys.ART_PREFIX, keys.ARC_PREFIX)):
        return "artifact"
    if sk.startswith((keys.EVT_PREFIX, keys.CEV_PREFIX)):
        return "streamEvent"
    if pk.startswith(keys.SESSION_PREFIX) and sk == keys.META:
        return "session"
    return None


def normalize(document: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, canonical model fields) of any item shape this system ever stored."""
    raw = dict(document)
    wrapped = raw.pop(LEGACY_WRAPPER, None)
    if isinstance(wrapped, dict):
        # Top-level attributes win: a field written beside the wrapper came later than the wrapper itself.
        raw = {**wrapped, **raw}
    kind = _kind_of(raw)
    if kind is None:
        raise CorruptRecord(f"cannot tell what record {raw.get(keys.PK)!r}/{raw.get(keys.SK)!r} is")
    fields = {k: v for k, v in raw.items() if k not in _KEY_ATTRIBUTES}
    if "requestId" in fields:
        request_id = fields.pop("requestId")
        fields.setdefault("sessionId", request_id)
    if "sessionId" not in fields and kind == "session":
        fields["sessionId"] = str(raw.get(keys.PK, "")).removeprefix(keys.SESSION_PREFIX)
    if "isActive" in fields:
        is_active = fields.pop("isActive")
        fields.setdefault("status", SessionStatus.ACTIVE.value if is_active else SessionStatus.ENDED.value)
    if isinstance(fields.get("status"), str):
        fields["status"] = fields["status"].lower()
    fields.setdefault("schemaVersion", SCHEMA_VERSION)
    if kind == "connectionEntry":
        fields = _entry_fields(raw, fields)
    if kind == "artifact":
        fields = _result_lineage(fields)
    if kind == "session":
        fields.setdefault("maxListeners", LEGACY_DEFAULT_MAX_LISTENERS)
        if "createdAt" in fields:
            fields.setdefault("updatedAt", fields["createdAt"])
            if isinstance(fields.get("sessionId"), str) and isinstance(fields["createdAt"], int):
                fields.setdefault("epoch", legacy_epoch(fields["sessionId"], fields["createdAt"]))
    return kind, fields


def _entry_fields(raw: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """A connection entry's fields: what its keys say, and of its attributes the entry's own (an item code before
    compact entries wrote holds the whole connection: the rest is on its lookup item)."""
    try:
        session_id, partition = keys.connections_partition_parts(str(raw.get(keys.PK, "")))
        sort_key = str(raw.get(keys.SK, ""))
        connection_id = keys.connection_id_of_sort_key(sort_key)
    except ValueError as error:
        raise CorruptRecord(str(error)) from None
    channel = keys.channel_of_sort_key(sort_key)
    own = {name: v for name, v in fields.items() if name in ConnectionEntry.model_fields}
    said = {"sessionId": session_id, "partition": partition, "connectionId": connection_id}
    return {**own, **said, **({"channel": channel} if channel is not None else {})}


def _result_lineage(fields: dict[str, Any]) -> dict[str, Any]:
    """A result written before its record carried its lineage has it read from its key: the key is then checked
    against the lineage derived from it (owner, session, root, parent, no repeats), as before lineages existed."""
    key = fields.get("objectKey")
    if fields.get("parentId") is None or "ancestorIds" in fields or not isinstance(key, str):
        return fields
    found = storage.lineage_in_key(key)
    if found is None:
        return fields
    root_kind, ancestors = found
    return {**fields, "rootKind": fields.get("rootKind", root_kind), "ancestorIds": ancestors}


def from_document(document: Mapping[str, Any]) -> Record:
    kind, fields = normalize(document)
    try:
        return MODEL_OF[kind].model_validate(fields)
    except ValidationError as error:
        where = f"{document.get(keys.PK)!r}/{document.get(keys.SK)!r}"
        raise CorruptRecord(f"{kind} item {where} does not fit the schema: {error.errors()[:3]}") from error


def decode(item: Mapping[str, AttributeValue]) -> Record:
    return from_document(deserialize(item))


def decode_as(item: Mapping[str, AttributeValue], model: type[R]) -> R:
    record = decode(item)
    if not isinstance(record, model):
        raise CorruptRecord(f"expected a {model.__name__}, found a {type(record).__name__}")
    return record


def decode_entry(item: Mapping[str, AttributeValue]) -> ConnectionEntry:
    """A connection's entry from its item in its session, whichever shape wrote it: compact, whole (code before
    compact entries), or under the key of code before channels."""
    record = decode(item)
    if not isinstance(record, ConnectionEntry):  # a Connection is one too (an item under the old key)
        raise CorruptRecord(f"expected a connection's entry, found a {type(record).__name__}")
    return record.entry()


def canonical_item(item: Mapping[str, AttributeValue]) -> Item:
    """What `encode` writes today for the record a stored item (of any shape) holds; a connection item under the
    key of code before channels stays there, whole (it is read there until it expires)."""
    record = decode(item)
    if isinstance(record, Connection) and str(item.get(keys.PK, {}).get("S", "")).startswith(keys.SESSION_PREFIX):
        return legacy_connection_item(record)
    return encode(record)


def is_canonical(item: Mapping[str, AttributeValue]) -> bool:
    """True when the item is exactly what `encode` writes for the record it holds."""
    return dict(item) == canonical_item(item)


# A recovering join's marks on a connection's entry (session_store/stream_log.py), read by the fan-out.
_LIVE_MARKS = ("liveFromSeq", "liveFromChannelSeq", "heldUntil")


def decode_target(item: Mapping[str, AttributeValue]) -> ConnectionTarget:
    """The fan-out's view of a connection item read with session_store.expressions.TARGET_PROJECTION: its sort
    key and its role, also where a legacy item keeps it inside its `Data` wrapper (top-level wins, as in
    `normalize`), its protocol version (none on items older than versions: 1) and its channel (from the sort key),
    decoded without building a whole Connection record per listener."""
    sort_key = item.get(keys.SK, {}).get("S", "")
    role = item.get("role") or item.get(LEGACY_WRAPPER, {}).get("M", {}).get("role") or {}
    try:
        connection_id = keys.connection_id_of_sort_key(sort_key)
    except ValueError as error:
        raise CorruptRecord(str(error)) from None
    try:
        live = {name: item[name]["N"] for name in _LIVE_MARKS if "N" in item.get(name, {})}
        version = {"protocolVersion": item["protocolVersion"].get("N")} if "protocolVersion" in item else {}
        channel = keys.channel_of_sort_key(sort_key)
        target = {"connectionId": connection_id, "role": role.get("S"), "channel": channel, **version, **live}
        return ConnectionTarget.model_validate(target)
    except ValidationError as error:
        raise CorruptRecord(f"connection {sort_key!r}: {error.errors()[0]['msg']}") from error
