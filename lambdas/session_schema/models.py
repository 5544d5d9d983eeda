"""The records of the system. Each carries `schemaVersion`; the codec is the only way in or out of storage."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from . import keys
from .artifact_kinds import CONTENT_TYPE_PATTERN, KIND_PATTERN
from .cursor import MAX_CURSOR_LENGTH
from .ids import EPOCH_PATTERN, SESSION_ID_PATTERN
from .layout import MAX_CONNECTION_PARTITIONS, MAX_SEAT_SHARDS
from .status import ArtifactStatus, SessionStatus, is_joinable
from .storage import OBJECT_KEY_MAX_BYTES, artifact_object_key

SCHEMA_VERSION: Final = 1

# Named constraint types: every field, request body and frame that holds one of these imports it from here
# (a query or path parameter, which Powertools declares with its own `Query`/`Path`, uses the constants).
SessionId = Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]
# User IDs and connection IDs become part of keys, so `#` (the key separator) is never allowed.
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@:\-]{0,127}$"  # a token's `sub` too (auth)
UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
CONNECTION_ID_PATTERN = r"^[A-Za-z0-9_=+/\-]{1,128}$"  # what the local @connections endpoint accepts too
ConnectionId = Annotated[str, StringConstraints(pattern=CONNECTION_ID_PATTERN)]
MESSAGE_ID_PREFIX: Final = "msg"
ARTIFACT_ID_PREFIX: Final = "art"


def record_id_pattern(prefix: str = "[a-z]{3}") -> str:
    """The pattern of `ids.new_record_id(prefix)`'s IDs: `<prefix>_` and 26 Crockford characters."""
    return rf"^{prefix}_[0-9A-Z]{{26}}$"


RecordId = Annotated[str, StringConstraints(pattern=record_id_pattern())]
ARTIFACT_ID_PATTERN = record_id_pattern(ARTIFACT_ID_PREFIX)
EPOCH_MS_LIMIT = keys.MS_MAX + 1  # exclusive: a time in epoch ms (year 2286) as a sort key holds it
EpochMs = Annotated[int, Field(ge=0, lt=EPOCH_MS_LIMIT)]
Epoch = Annotated[str, StringConstraints(pattern=EPOCH_PATTERN)]
CursorToken = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CURSOR_LENGTH)]
SOURCE_LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
SOURCE_LANGUAGE_MAX = 64
SourceLanguage = Annotated[str, StringConstraints(pattern=SOURCE_LANGUAGE_PATTERN, max_length=SOURCE_LANGUAGE_MAX)]
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
IdempotencyKey = Annotated[str, StringConstraints(pattern=IDEMPOTENCY_KEY_PATTERN)]
# A channel of a session (a language, a camera angle): part of connection and stream keys, so never `#`.
CHANNEL_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,31}$"
ChannelName = Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)]
MAX_CHANNELS = 32


def _unique(names: list[str]) -> list[str]:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"names a channel twice: {', '.join(repeated)}")
    return names


# A session's declared channels, in the order they are shown.
ChannelList = Annotated[
    list[ChannelName],
    Field(max_length=MAX_CHANNELS, json_schema_extra={"uniqueItems": True}),  # the document says what _unique checks
    AfterValidator(_unique),
]
ARTIFACT_ERROR_MAX = 1000
ArtifactError = Annotated[str, StringConstraints(max_length=ARTIFACT_ERROR_MAX)]

TITLE_MAX = 200
MESSAGE_TEXT_MAX = 4000
FILE_NAME_MAX = 255

# What a person types: never a NUL (C-string truncation in whatever stores, logs or renders it next) and
# never only whitespace or invisible characters (a title or message that shows as nothing: a zero-width
# space, a BOM, a Hangul filler...). The JSON Schema gets the same rule as a pattern (for documents and
# generated clients); the validator is what runs, with a message naming why. Both read INVISIBLE.
INVISIBLE: Final = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0"
)
_INVISIBLE_ONLY = re.compile(f"[\\s{INVISIBLE}]*")
_HUMAN_TEXT_PATTERN = f"^[^\\x00]*[^\\s\\x00{INVISIBLE}][^\\x00]*$"


def _human_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if value and _INVISIBLE_ONLY.fullmatch(value):
        raise ValueError("must contain a visible character (not only whitespace or invisible ones)")
    return value


# A session's title: "" (no title) or text with something visible in it.
Title = Annotated[
    str,
    StringConstraints(max_length=TITLE_MAX),
    AfterValidator(_human_text),
    Field(json_schema_extra={"pattern": f"^$|{_HUMAN_TEXT_PATTERN}"}),
]
# A new title (PATCH): text with something visible in it; clearing a title is explicit (`"title": null`).
VisibleTitle = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TITLE_MAX),
    AfterValidator(_human_text),
    Field(json_schema_extra={"pattern": _HUMAN_TEXT_PATTERN}),
]
# A stored message's text: 1..MESSAGE_TEXT_MAX characters with something visible in it.
MessageText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MESSAGE_TEXT_MAX),
    AfterValidator(_human_text),
    Field(json_schema_extra={"pattern": _HUMAN_TEXT_PATTERN}),
]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)
    schemaVersion: Literal[1] = SCHEMA_VERSION

    # What each audience sees of a record, in the order it is sent: fields, or properties the view computes.
    # session_schema.views derives each view's model (and so both API documents) from these names and the
    # fields' own types and descriptions; `view_of` builds the answer. A new field is shown by naming it here.
    PUBLIC_FIELDS: ClassVar[tuple[str, ...]] = ()
    OWNER_FIELDS: ClassVar[tuple[str, ...]] = ()
    # A view name shown from a property rather than the stored field of that name: {view name: property}.
    SHOWN_AS: ClassVar[dict[str, str]] = {}
    # The fields its item's keys say. A record that names any is written compact (session_schema.codec): its keys
    # and the other fields that differ from their defaults, no kind tag, no `schemaVersion`; decode reads the
    # named fields back from the keys.
    KEY_FIELDS: ClassVar[tuple[str, ...]] = ()

    def view_of(self, names: tuple[str, ...]) -> dict[str, object]:
        shown = type(self).SHOWN_AS
        fields = (set(names) - set(shown)) & set(type(self).model_fields)
        data = self.model_dump(mode="json", include=fields)
        return {name: data[name] if name in data else getattr(self, shown.get(name, name)) for name in names}


# Presence (docs/websocket-api.md, Presence and reactions): a display name a connection gives, and the JSON it sets.
PRESENCE_NAME_MAX = 64
PRESENCE_DATA_MAX_BYTES = 1024
# A reaction: one emoji (a short run of symbol characters and their joiners/modifiers) or a word of [a-z0-9_:+-].
REACTION_WORD_PATTERN = r"^[a-z0-9_:+\-]{1,32}$"
REACTION_EMOJI_MAX = 16  # characters: a family or flag emoji is a sequence of several code points
Audience = Literal["speaker", "public"]  # who hears presence notices / reactions: the speaker only, or everyone


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must not contain control or other non-printable characters")
    if not value.strip():
        raise ValueError("must contain a visible character")
    return value


# A connection's display name: 1 to 64 printable characters (no control characters, not only spaces).
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=PRESENCE_NAME_MAX), AfterValidator(_printable)]


class ChannelView(BaseModel):
    """A channel of a session as anyone may see it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ChannelName
    listenerCount: Annotated[int, Field(ge=0)]


class Session(Record):
    sessionId: SessionId
    ownerId: UserId
    title: Title = ""
    sourceLanguage: SourceLanguage = "en"
    maxListeners: Annotated[int, Field(ge=1)]
    status: SessionStatus = SessionStatus.ACTIVE
    muted: bool = False
    listenerCount: Annotated[int, Field(ge=0)] = 0
    seq: Annotated[int, Field(ge=0, description="the seq of the session's latest stream event; 0 before any")] = 0
    epoch: Annotated[
        Epoch, Field(description="the stream's epoch: a saved `seq` is only meaningful with the same epoch")
    ]
    speakerConnectionId: ConnectionId | None = None
    speakerlessSince: EpochMs | None = None  # set while joinable with no speaker; the sweep reads it
    # When a connection last registered; cleared by the sweep once it finds none registered. While set, the
    # session is listed (GSI3) for the sweep, which checks its connections for half registrations.
    lastRegisteredAt: EpochMs | None = None
    createdAt: EpochMs
    updatedAt: EpochMs
    endedAt: EpochMs | None = None
    expiresAt: int | None = None  # epoch seconds (DynamoDB TTL), set once ended
    channels: ChannelList = []
    # Listeners per channel, moved by the same conditional writes as `listenerCount` (join, leave, switch); it
    # may keep a removed channel's entry until its listeners are moved. Lifecycle events read it cross zero.
    channelCounts: dict[str, Annotated[int, Field(ge=0)]] = {}
    # How many partition keys the session's connection items are spread over (keys.connection_partition_of).
    connectionPartitions: Annotated[int, Field(ge=1, le=MAX_CONNECTION_PARTITIONS)] = 1
    # Who may list the members and hears `presenceChanged` ("speaker": the speaker only; "public": everyone), and
    # who hears the aggregated `reactions`.
    presence: Annotated[Audience, Field(description="who may list members and hears presenceChanged")] = "speaker"
    reactions: Annotated[Audience, Field(description="who hears the aggregated reactions")] = "speaker"
    # How many seat shards (SeatShard) hold the seats and counts of a keynote session, set at creation and never
    # changed; 0 (and sessions older code wrote): `listenerCount` and `channelCounts` above hold them. The store
    # sums the shards into those two fields on read, so every reader sees one session.
    seatShards: Annotated[int, Field(ge=0, le=MAX_SEAT_SHARDS)] = 0
    # True on the item a publish left with nothing changed but `seq` (a broadcast, a message): the lifecycle
    # events' stream filter passes no such write, so a broadcast never invokes that function. Every other write
    # of the session item removes it (codec.session_write).
    seqOnly: bool | None = None

    PUBLIC_FIELDS = (
        "sessionId", "title", "status", "listenerCount", "muted", "createdAt", "maxListeners", "seq", "epoch",
        "channels",
    )  # fmt: skip
    SHOWN_AS = {"channels": "channelListeners"}
    OWNER_FIELDS = (
        *PUBLIC_FIELDS,
        "ownerId",
        "sourceLanguage",
        "speakerConnected",
        "updatedAt",
        "endedAt",
        "presence",
        "reactions",
    )

    @property
    def speakerConnected(self) -> bool:  # noqa: N802 - a view's field name
        return self.speakerConnectionId is not None

    @property
    def joinable(self) -> bool:
        return is_joinable(self.status)

    @property
    def channelListeners(self) -> list[ChannelView]:  # noqa: N802 - a view's field name
        """the session's channels in declared order, each with its listeners (`[]` when it declares none)"""
        return [ChannelView(name=name, listenerCount=self.channelCounts.get(name, 0)) for name in self.channels]

    def connection_scope(self) -> keys.ConnectionScope:
        """Every connection of the session, where its connection items are (`.of_channel(c)`: one channel's)."""
        return keys.ConnectionScope(self.sessionId, self.connectionPartitions, channels=tuple(self.channels))

    def declares(self, channel: str | None) -> bool:
        """Whether a connection may be on `channel` (None: on no channel, always)."""
        return channel is None or channel in self.channels

    def messages_readable_by(self, user_id: str | None) -> bool:
        """Anyone while joinable (listeners catch up), the owner always: once ended, a private view.
        The one rule of both `GET /sessions/{id}/messages` and the WebSocket `history` action."""
        return self.joinable or (user_id is not None and user_id == self.ownerId)

    def public_view(self) -> dict[str, object]:
        """What anyone may see; the contract's public fields and nothing else."""
        return self.view_of(self.PUBLIC_FIELDS)

    def owner_view(self) -> dict[str, object]:
        return self.view_of(self.OWNER_FIELDS)


Role = Literal["speaker", "listener"]
ProtocolVersion = Annotated[int, Field(ge=1, le=9999)]


class ConnectionTarget(BaseModel):
    """What a fan-out needs of a connection, read through a projection of its item
    (session_store.expressions.TARGET_PROJECTION): whom to post to, its role, the protocol version it declared, its
    channel, and the first seq of each stream it takes live. Not a record: nothing writes it."""

    model_config = ConfigDict(frozen=True)

    connectionId: ConnectionId
    role: Role
    protocolVersion: ProtocolVersion = 1
    # From its sort key (which our own writes built: not validated again per connection): a channel's events go to
    # that channel's connections only.
    channel: str | None = None
    liveFromSeq: int | None = None
    liveFromChannelSeq: int | None = None
    heldUntil: int | None = None

    @property
    def marked(self) -> bool:
        """Whether a recovery marked it (some live events of a stream may be kept from it)."""
        return self.liveFromSeq is not None or self.liveFromChannelSeq is not None

    def takes(self, seq: int | None, now_ms: int, *, channel: bool = False) -> bool:
        """Whether a live event at `seq` (None: not a stream event) of the session stream (`channel`: of the
        connection's channel's stream) is sent to it: not while a recovery replays that stream to it, nor one its
        replay already carried. A hold its recovery never released (that writer died) lapses at `heldUntil`: the
        client sees the gap by seq and resumes again."""
        live_from = self.liveFromChannelSeq if channel else self.liveFromSeq
        if seq is None or live_from is None or seq >= live_from:
            return True
        return self.heldUntil is not None and now_ms > self.heldUntil


class ConnectionEntry(Record):
    """A connection as its session lists it: the item under its session's connection partition
    (`CONNS#<sessionId>#<p>` / `C#<channel>#<connectionId>`) that every fan-out Queries, strongly consistent.
    DynamoDB bills a Query by the whole items it reads, attribute names included, so this item holds only what its
    readers need and its keys do not say: `KEY_FIELDS` are read back from the keys, defaults (a version-1
    connection's version) from the model, and neither kind tag nor `schemaVersion` is written (the key prefix says
    what it is). The rest of the connection (who, since when) is on its lookup item only (`Connection`)."""

    KEY_FIELDS: ClassVar[tuple[str, ...]] = ("sessionId", "connectionId", "channel", "partition")

    connectionId: ConnectionId
    sessionId: SessionId
    role: Role
    expiresAt: int  # epoch seconds (DynamoDB TTL): a connection API Gateway dropped silently still goes
    # The WebSocket protocol version its connect URL declared (`&v=`, session_protocol/versions.py); items
    # written before versions existed read as 1, the version of the clients that wrote them.
    protocolVersion: ProtocolVersion = 1
    # Set by a recovering join (session_store/stream_log.py): the first seq of the session stream, and of its
    # channel's stream, fan-outs send it live, and while its replay runs, until when that hold lasts (epoch ms).
    liveFromSeq: int | None = None
    liveFromChannelSeq: int | None = None
    heldUntil: int | None = None
    channel: ChannelName | None = None  # the one channel whose events it gets besides the session-wide ones
    # Which of its session's connection partitions holds its item (keys.connection_key); None: registered by code
    # before channels, under keys.legacy_connection_key.
    partition: Annotated[int, Field(ge=0, lt=MAX_CONNECTION_PARTITIONS)] | None = None
    # The seat shard holding a listener's seat in a keynote session (None: its seat is on the session item).
    seat: Annotated[int, Field(ge=0, lt=MAX_SEAT_SHARDS)] | None = None

    def entry(self) -> ConnectionEntry:
        """The connection as its session's partition lists it (of a `Connection`: without what only its lookup
        item holds)."""
        return ConnectionEntry.model_validate(self.model_dump(include=set(ConnectionEntry.model_fields)))


class Connection(ConnectionEntry):
    """A connection, whole: its lookup item (`CONN#<connectionId>` / `META`, found by connection ID alone, as
    `$disconnect` knows nothing else). Its entry in its session (`entry()`) is the part every fan-out reads."""

    KEY_FIELDS = ()

    userId: UserId | None = None
    connectedAt: EpochMs


# A connection whole (read from its lookup item) or as its session lists it (its entry): what code that takes either
# hands back.
AnyConnection = TypeVar("AnyConnection", bound=ConnectionEntry)


class SeatShard(Record):
    """One shard of a keynote session's seats (keys.seat_shard_key): `capacity` seats of `maxListeners` (the shards'
    capacities add up to it), `count` of them taken, the listeners per channel, and the session's declared
    `channels` and whether it is `closed` (ended), so a join's transaction judges everything on this item alone and
    never writes the session item."""

    sessionId: SessionId
    shard: Annotated[int, Field(ge=0, lt=MAX_SEAT_SHARDS)]
    capacity: Annotated[int, Field(ge=0)]
    count: Annotated[int, Field(ge=0)] = 0
    channels: ChannelList = []
    channelCounts: dict[str, Annotated[int, Field(ge=0)]] = {}
    closed: bool = False
    expiresAt: int | None = None  # epoch seconds (DynamoDB TTL), set with `closed`, as its session's


class SessionOccupancy(Record):
    """Whether a keynote session (seats on seat shards) has listeners, and on which channels, as the lifecycle events
    function last read its shards (keys.occupancy_key). Written only when that changes (a conditional write on
    `occupancyVersion`), so its stream records are exactly the session's occupied/vacated transitions.
    `occupiedChannels` names only the channels with listeners. Its own attribute names (no session field's) are
    the only ones the events function's role may write (infra/permissions.py)."""

    sessionId: SessionId
    ownerId: UserId
    occupiedListeners: Annotated[int, Field(ge=0)] = 0
    occupiedChannels: dict[str, Annotated[int, Field(gt=0)]] = {}
    occupancyVersion: Annotated[int, Field(ge=1)] = 1

    def same_occupancy(self, other: SessionOccupancy) -> bool:
        """Occupied alike, on the same channels (the counts themselves may differ)."""
        return (self.occupiedListeners > 0) == (other.occupiedListeners > 0) and set(self.occupiedChannels) == set(
            other.occupiedChannels
        )


class PresenceMember(Record):
    """A connection as presence shows it: written in its registration's transaction, deleted with it, so the member
    list is one key range of its own (`PRESENCE#<id>`), never in the items a fan-out reads. `data` is kept as the
    JSON text the connection set (at most 1 KB), so no number changes on its way through DynamoDB."""

    sessionId: SessionId
    connectionId: ConnectionId
    role: Role
    userId: UserId | None = None
    name: DisplayName | None = None
    channel: ChannelName | None = None
    joinedAt: EpochMs
    data: Annotated[str, StringConstraints(max_length=PRESENCE_DATA_MAX_BYTES)] | None = None
    expiresAt: int  # epoch seconds (DynamoDB TTL): the connection's own

    PUBLIC_FIELDS = ("connectionId", "role", "userId", "name", "channel", "joinedAt")

    def view(self) -> dict[str, object]:
        """The member as `presence` and `presenceChanged` show it: absent fields left out, `data` as JSON."""
        shown: dict[str, object] = {k: v for k, v in self.view_of(self.PUBLIC_FIELDS).items() if v is not None}
        if self.data is not None:
            shown["data"] = json.loads(self.data)
        return shown


class Ban(Record):
    """A signed-in user or a display name kept out of a session by its speaker (`kick {ban: true}`), until the
    session's own records expire."""

    sessionId: SessionId
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)]  # `user:<userId>` or `name:<name>`
    createdAt: EpochMs
    expiresAt: int


NOTICE_KINDS = ("members", "reactions")


class NoticeSlot(Record):
    """The conflation slot of one kind of notice of one session (session_runtime/conflation.py): when one was last
    sent, whether a trailing one is scheduled, and what changed since (connection IDs -> change for presence,
    reaction -> count for reactions). Never on the session item."""

    sessionId: SessionId
    kind: Literal["members", "reactions"]
    sentAt: EpochMs | None = None
    trailingDue: EpochMs | None = None
    pending: dict[str, Annotated[int, Field(ge=0)]] = {}
    pendingSince: EpochMs | None = None
    expiresAt: int | None = None


class Message(Record):
    messageId: RecordId
    sessionId: SessionId
    senderId: UserId
    text: MessageText
    createdAt: EpochMs
    expiresAt: int | None = None
    seq: Annotated[int, Field(ge=1)] | None = None  # the stream seq of its `message` event (older ones: none)

    PUBLIC_FIELDS = ("messageId", "sessionId", "text", "createdAt")

    def view(self) -> dict[str, object]:
        return self.view_of(self.PUBLIC_FIELDS)


SEQ_MAX = 10**keys.SEQ_DIGITS - 1  # what the stream's sort key holds


class StreamEvent(Record):
    """One event of a session's stream, kept for the stream window (then expired by TTL) for recovery.

    `frame` is the event exactly as it was pushed (JSON text, `seq` included), so a recovery sends the same
    bytes every live connection got, without re-encoding them."""

    sessionId: SessionId
    channel: ChannelName | None = None  # None: the session stream; else that channel's own stream
    seq: Annotated[int, Field(ge=1, le=SEQ_MAX)]
    frame: Annotated[str, StringConstraints(min_length=2)]
    createdAt: EpochMs
    expiresAt: int  # epoch seconds (DynamoDB TTL); a reader also treats an item past it as gone


class ChannelHead(Record):
    """The head of one channel's stream: the seq of its latest event (0 before any). Same `epoch` as its session."""

    sessionId: SessionId
    channel: ChannelName
    seq: Annotated[int, Field(ge=0, le=SEQ_MAX)] = 0


ArtifactKind = Annotated[str, StringConstraints(pattern=KIND_PATTERN)]
ContentType = Annotated[str, StringConstraints(pattern=CONTENT_TYPE_PATTERN)]
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\- ]{0,254}$")]


class Artifact(Record):
    artifactId: RecordId
    sessionId: SessionId
    ownerId: UserId
    kind: ArtifactKind
    contentType: ContentType
    fileName: FileName
    # Always storage.artifact_object_key(...) of this record (`derived_object_key`): kept so a reader never
    # rebuilds it differently.
    objectKey: Annotated[
        str,
        Field(
            description="`<ownerId>/<sessionId>/<kind>/<artifactId>/<fileName>`; a result's under its parent's: "
            "`<ownerId>/<sessionId>/<root kind>/<rootId>/.../<parentId>/<artifactId>/<fileName>`"
        ),
    ]
    status: ArtifactStatus = ArtifactStatus.PENDING
    error: ArtifactError | None = None
    createdAt: EpochMs
    updatedAt: EpochMs
    processingStartedAt: EpochMs | None = None
    completedAt: EpochMs | None = None
    processingMs: Annotated[int, Field(ge=0)] | None = None
    # When its upload was confirmed (written by the artifacts work; absent until then): `Artifact Uploaded`.
    uploadedAt: EpochMs | None = None
    # What storage reported of the stored object (session_runtime/uploads.py), and a still image's size read
    # from its header bytes (session_schema/file_header.py): absent until the upload is confirmed.
    sizeBytes: Annotated[int, Field(ge=0)] | None = None
    etag: Annotated[str, StringConstraints(max_length=128)] | None = None
    width: Annotated[int, Field(ge=1)] | None = None
    height: Annotated[int, Field(ge=1)] | None = None
    # A result (`POST .../results`): its parent, and the root of its tree (its item is `ARC#<rootId>#<id>`).
    parentId: RecordId | None = None
    rootId: RecordId | None = None
    # And what its key is derived from besides its own fields: its root's kind and its ancestors' IDs, root first,
    # parent last (`result_lineage` of its parent), so the validator accepts exactly the derived key.
    rootKind: ArtifactKind | None = None
    ancestorIds: tuple[RecordId, ...] | None = None
    processor: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    # Shared with listeners by its owner (PATCH): they see its public view and may download it while the
    # session is joinable; unshared, they learn only its ID and status.
    shared: bool = False
    # Kept by its owner past the session's retention, with its whole tree (a result without its parent would be
    # an orphan): the session then stays, holding only its kept trees, until the owner deletes its data
    # (session_runtime/session_purge.py).
    keep: bool = False

    # The public view has no storage path (it carries the owner's ID); the owner's adds it.
    PUBLIC_FIELDS = (
        "artifactId", "sessionId", "kind", "contentType", "fileName", "status", "error",
        "createdAt", "updatedAt", "processingStartedAt", "completedAt", "processingMs",
        "uploadedAt", "sizeBytes", "width", "height", "parentId", "processor", "shared",
    )  # fmt: skip
    # What a listener sees of an artifact its owner has not shared: that it exists and where it is.
    GLIMPSE_FIELDS: ClassVar[tuple[str, ...]] = ("artifactId", "status", "shared")
    OWNER_FIELDS = (*PUBLIC_FIELDS, "objectKey", "etag", "keep")

    @model_validator(mode="after")
    def _object_key_is_derived(self) -> Artifact:
        # The `<userId>/<requestId>/...` bug: a stored path that is not the one derived from this
        # record's own owner and session would send reads, deletes and uploads somewhere else.
        lineage = (self.parentId, self.rootId, self.rootKind, self.ancestorIds)
        if self.parentId is None and any(part is not None for part in lineage):
            raise ValueError("a root has no rootId, rootKind or ancestorIds (a result has parentId)")
        if self.parentId is not None:
            ancestors = self.ancestorIds or ()
            if self.rootKind is None or not ancestors or (ancestors[0], ancestors[-1]) != (self.rootId, self.parentId):
                raise ValueError("a result has its rootKind and ancestorIds, from rootId down to parentId")
            if len({*ancestors, self.artifactId}) != len(ancestors) + 1:
                raise ValueError(f"ancestorIds {list(ancestors)} repeat an ID: a tree has no cycles")
        expected = self.derived_object_key()
        if self.objectKey != expected:
            raise ValueError(f"objectKey {self.objectKey!r} is not the derived {expected!r}")
        if len(expected.encode()) > OBJECT_KEY_MAX_BYTES:
            raise ValueError(f"objectKey is over S3's {OBJECT_KEY_MAX_BYTES} bytes")
        return self

    def derived_object_key(self) -> str:
        """The key storage derives for this record: a root's from its own kind, a result's from its root's kind and
        its ancestors (so under its parent's prefix)."""
        kind = self.rootKind or self.kind
        ancestors = self.ancestorIds or ()
        return artifact_object_key(self.ownerId, self.sessionId, kind, self.artifactId, self.fileName, ancestors)

    def result_lineage(self) -> dict[str, Any]:
        """What a result of this artifact carries of its place: this as parent, its root, the root's kind, and the
        ancestors' IDs down to this one."""
        return {
            "parentId": self.artifactId,
            "rootId": self.rootId or self.artifactId,
            "rootKind": self.rootKind or self.kind,
            "ancestorIds": (*(self.ancestorIds or ()), self.artifactId),
        }

    def result_object_key(self, artifact_id: str, file_name: str) -> str:
        """The key of a result `artifact_id` of this artifact: under this one's prefix (storage.tree_prefix)."""
        lineage = self.result_lineage()
        kind, ancestors = lineage["rootKind"], lineage["ancestorIds"]
        return artifact_object_key(self.ownerId, self.sessionId, kind, artifact_id, file_name, ancestors)

    def view(self) -> dict[str, object]:
        """What the owner sees."""
        return self.view_of(self.OWNER_FIELDS)

    def public_view(self) -> dict[str, object]:
        """What every connection of the session may see."""
        return self.view_of(self.PUBLIC_FIELDS)

    def listener_view(self) -> dict[str, object]:
        """What a listener sees: the public view when shared, else only its ID, status and `shared: false`."""
        return self.view_of(self.PUBLIC_FIELDS if self.shared else self.GLIMPSE_FIELDS)


class IdempotencyRecord(Record):
    """Remembers which session an `Idempotency-Key` created, and a hash of the request it came with."""

    ownerId: UserId
    key: IdempotencyKey
    sessionId: SessionId
    requestHash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    createdAt: EpochMs
    expiresAt: int


AnyRecord = (
    Session
    | Connection
    | ConnectionEntry
    | Message
    | Artifact
    | IdempotencyRecord
    | StreamEvent
    | ChannelHead
    | PresenceMember
    | Ban
    | NoticeSlot
    | SeatShard
)
