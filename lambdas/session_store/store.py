"""The session store: the only code that talks to DynamoDB. This module holds its operations (sessions,
connections, messages, artifacts, and the changes published on a session's stream); stream_log.py the stream's
own primitives (its head, the one write that numbers and keeps events, recovery); dynamo.py the DynamoDB
plumbing they run on (requests from codec changes, transactions, paged queries) and legacy.py the upgrade of
items older code wrote.

Every state change is a conditional write, multi-item changes are transactions, and refusals come back
as domain errors that say what was actually found (the actual status, the actual limit). Items go in and
out through `codec` only.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from session_schema import codec, keys, layout
from session_schema.errors import (
    ArtifactNotFound,
    Banned,
    ConcurrentUpdate,
    ConnectionNotFound,
    IdempotencyKeyReused,
    InvalidChannel,
    NotCurrentSpeaker,
    SessionEnded,
    SessionFull,
    SessionIdExhausted,
    SessionMuted,
    SessionNotFound,
    SessionPaused,
)
from session_schema.ids import new_epoch, new_record_id, new_session_id
from session_schema.models import (
    MESSAGE_ID_PREFIX,
    AnyConnection,
    Artifact,
    Connection,
    ConnectionEntry,
    ConnectionTarget,
    IdempotencyRecord,
    Message,
    PresenceMember,
    SeatShard,
    Session,
)
from session_schema.status import ArtifactStatus, SessionStatus, legal_sources, require_transition

from . import expressions as ex
from .artifact_tree import ArtifactTree
from .aws_errors import is_condition_failure as _is_condition_failure
from .dynamo import MAX_PAGE as MAX_PAGE
from .dynamo import SESSION_ARTIFACTS, SESSION_ARTIFACTS_AND_RESULTS, SESSION_MESSAGES, USER_SESSIONS, Page
from .dynamo import ConditionFailed as _ConditionFailed
from .dynamo import OldItem as _OldItem
from .dynamo import cancellation_reasons as _cancellation_reasons
from .dynamo import failed as _failed
from .legacy import LegacyItemUpgraded
from .legacy import upgrades_legacy_items as _upgrades_legacy_items
from .presence_store import PresenceStore, ban_subjects
from .seat_ledger import channel_moves
from .session_data import SessionData
from .stream_log import ChannelMoved as ChannelMoved
from .stream_log import HeadChange, ItemRefused, StreamLog

MAX_CREATE_ATTEMPTS = 8
MAX_TRANSITION_ATTEMPTS = 4
# The attributes the operations' conditions name (the codec's changes name the ones they write).
_LISTENERS = ex.field(Session, "listenerCount")
_MAX_LISTENERS = ex.field(Session, "maxListeners")
_MUTED = ex.field(Session, "muted")
_OWNER = ex.field(Session, "ownerId")
_SEQ = ex.field(Session, "seq")
_SPEAKER = ex.field(Session, "speakerConnectionId")
_SPEAKERLESS_SINCE = ex.field(Session, "speakerlessSince")
_KEY_EXPIRES = ex.field(IdempotencyRecord, "expiresAt")
_ARTIFACT_STATUS = ex.field(Artifact, "status")
_CHANNELS = ex.field(Session, "channels")
_CHANNEL_COUNTS = ex.field(Session, "channelCounts")
_PARTITIONS = ex.field(Session, "connectionPartitions")
_SEAT_SHARDS = ex.field(Session, "seatShards")
# The deploy window of the connection keys (docs/data-model.md): fan-outs also read where code before channels
# registered connections, until those have expired (CONNECTION_TTL_SECONDS). A later deploy sets it False.
READ_LEGACY_CONNECTION_KEYS = True
_ARTIFACT_ETAG = ex.field(Artifact, "etag")
PING_SESSION_ID = "~ping"  # never a session ID: see ping()


class NotOwner(Exception):
    """A signed-in caller tried to connect as speaker to a session they do not own (they join as listener)."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.sessionId)
        self.session = session


def _registered_as(item: _OldItem | None, connection: Connection) -> Connection | None:
    """The connection a refused put of its lookup item found, when it is `connection` exactly as this registration
    writes it (its seat may be on another shard: an earlier try of the same registration found the first ones full)."""
    if not item:
        return None
    found = codec.decode_as(item, Connection)
    return found if found == connection.model_copy(update={"seat": found.seat}) else None


def _partitions_are(partitions: int) -> ex.Condition:
    """The session spreads its connections over `partitions` (a session older code wrote: one)."""
    equal = _PARTITIONS.eq(partitions)
    return (_PARTITIONS.absent() | equal) if partitions == 1 else equal


def _layout_is(partitions: int, seat_shards: int) -> ex.Condition:
    """The session is laid out so: `partitions` connection partitions, `seat_shards` seat shards (none: its seats
    are on its own item, as on every session older code wrote)."""
    shards = (_SEAT_SHARDS.absent() | _SEAT_SHARDS.eq(0)) if not seat_shards else _SEAT_SHARDS.eq(seat_shards)
    return _partitions_are(partitions) & shards


def _declares(channel: str | None) -> ex.Condition:
    """The session declares `channel` (no channel: always true, said as "the session exists")."""
    return ex.ITEM_EXISTS if channel is None else _CHANNELS.contains(channel)


def _registered_per_channel(session: Session, listeners: Sequence[ConnectionEntry]) -> dict[str, int]:
    """`channelCounts` as the registered `listeners` make it: every declared channel, and any other a listener is
    still on (a removed channel's, until its listeners are moved)."""
    counted = Counter(c.channel for c in listeners if c.channel is not None)
    return dict.fromkeys(session.channels, 0) | dict(counted)


def _occupied(counts: Mapping[str, int]) -> dict[str, int]:
    """The channels with listeners: two count maps that differ only in zero entries count the same."""
    return {name: count for name, count in counts.items() if count}


def request_hash(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


class SessionStore(StreamLog, ArtifactTree, SessionData, PresenceStore):
    # ------------------------------------------------------------ sessions

    def create_session(
        self,
        *,
        owner_id: str,
        title: str,
        source_language: str,
        max_listeners: int,
        idempotency_key: str | None = None,
        idempotency_ttl_seconds: int = 86400,
        channels: Sequence[str] = (),
        audiences: Mapping[str, str] | None = None,
        seat_shards: int | None = None,
        connection_partitions: int | None = None,
    ) -> tuple[Session, bool]:
        """Create a session with a fresh human-readable ID. (session, created?) — False for a replay.

        The ID is claimed by a conditional put and regenerated on collision: never read-then-write.
        With an Idempotency-Key, the session and the key are written in one transaction; a keynote session's seat
        shards too (`seat_shards`: how many; None: as `layout.seat_shards_for(max_listeners)` sizes them; its
        `connection_partitions` likewise from `layout.connection_partitions_for`).
        """
        payload: dict[str, Any] = {"title": title, "sourceLanguage": source_language, "maxListeners": max_listeners}
        if channels:  # only then: keys remembered before channels keep their hash
            payload["channels"] = list(channels)
        audiences = dict(audiences or {})  # `presence`, `reactions` when given (the same rule for the hash)
        payload |= audiences
        digest = request_hash(payload)
        shards = layout.seat_shards_for(max_listeners) if seat_shards is None else seat_shards
        partitions = (
            layout.connection_partitions_for(max_listeners) if connection_partitions is None else connection_partitions
        )
        for _ in range(MAX_CREATE_ATTEMPTS):
            now = self.clock()
            session = Session(
                sessionId=new_session_id(),
                ownerId=owner_id,
                title=title,
                sourceLanguage=source_language,
                maxListeners=max_listeners,
                createdAt=now,
                updatedAt=now,
                speakerlessSince=now,
                epoch=new_epoch(),
                channels=list(channels),
                # the map the joins' counts move entries of (a keynote session's: on its seat shards)
                channelCounts={} if shards else dict.fromkeys(channels, 0),
                seatShards=shards,
                connectionPartitions=partitions,
                # A keynote session's joins never write its item, so it is on the sweep's list from the start.
                lastRegisteredAt=now if shards else None,
                **audiences,  # type: ignore[arg-type]  # `presence`, `reactions`: validated by the model
            )
            put = self._new_item(codec.encode(session))
            if idempotency_key is None and not shards:
                try:
                    self.client.put_item(**put)
                    return session, True
                except ClientError as error:
                    if _is_condition_failure(error):
                        continue  # the ID is taken: draw another
                    raise
            actions: list[dict[str, Any]] = [{"Put": put}]
            if idempotency_key is not None:
                record = IdempotencyRecord(
                    ownerId=owner_id,
                    key=idempotency_key,
                    sessionId=session.sessionId,
                    requestHash=digest,
                    createdAt=now,
                    expiresAt=now // 1000 + idempotency_ttl_seconds,
                )
                idempotent = {
                    "TableName": self.table_name,
                    "Item": codec.encode(record),
                    # A key past its TTL but not yet swept by DynamoDB counts as free.
                    **ex.params(condition=ex.NEW_ITEM | _KEY_EXPIRES.lt(now // 1000)),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
                actions.append({"Put": idempotent})
            try:
                self._transact([*actions, *self.new_seat_shards(session)])
                return session, True
            except ClientError as error:
                reasons = _cancellation_reasons(error)
                if reasons is None:
                    raise
                if idempotency_key is not None and _failed(reasons, 1):
                    return self._replay(owner_id, idempotency_key, digest, reasons[1].get("Item")), False
                if any(_failed(reasons, i) for i in range(len(reasons))):
                    continue  # the ID is taken (its session or a seat shard under it): draw another
                raise
        raise SessionIdExhausted("no free session ID after several attempts")

    def _replay(self, owner_id: str, key: str, digest: str, old_item: _OldItem | None) -> Session:
        if old_item:
            record = codec.decode_as(old_item, IdempotencyRecord)
        else:  # older DynamoDB-compatibles do not return the item with the cancellation
            found = self._get_item(keys.idempotency_key(owner_id, key), consistent=True)
            if found is None:
                raise SessionIdExhausted("idempotency record vanished; retry")
            record = codec.decode_as(found, IdempotencyRecord)
        if record.requestHash != digest:
            raise IdempotencyKeyReused()
        return self.get_session(record.sessionId, consistent=True)

    def get_session(self, session_id: str, *, consistent: bool = False) -> Session:
        """The session, with a keynote session's seat shards summed into its counts (`with_seats`)."""
        item = self._session_item(session_id, consistent=consistent)
        if item is None:
            raise SessionNotFound(session_id)
        return self.with_seats(codec.decode_as(item, Session))

    def _session_item(self, session_id: str, *, consistent: bool = True) -> codec.Item | None:
        return self._get_item(keys.session_key(session_id), consistent=consistent)

    def ping(self) -> None:
        """One cheap read that proves the table answers (health checks). Raises whatever the client raises.

        Reads the key of a session ID that can never exist (`~` is outside the ID alphabet), so it costs
        one eventually consistent read of nothing.
        """
        self.client.get_item(
            TableName=self.table_name,
            Key=codec.serialize_key(keys.session_key(PING_SESSION_ID)),
            **ex.params(projection=[ex.PK]),
        )

    def list_user_sessions(self, owner_id: str, *, limit: int, cursor: str | None) -> Page[Session]:
        """The owner's sessions newest first (a keynote session's counts summed from its seat shards)."""
        page = self._page(
            USER_SESSIONS,
            keys.user_sessions_partition(owner_id),
            Session,
            limit=limit,
            cursor=cursor,
            newest_first=True,
        )
        return Page([self.with_seats(session) for session in page.items], page.next_cursor)

    # ------------------------------------------------------------ changes published on the session's stream
    # Each judges a change against the head a publish read (raising the refusal it explains) and says what the
    # publish's one transaction must require and write besides the seq (stream_log.HeadChange); the runtime's
    # stream.publish numbers the events, appends, and retries a lost race on the head the refusal hands back.

    def status_change(
        self,
        head: Session,
        target: SessionStatus,
        *,
        ended_ttl_days: int = 30,
        only_if_speakerless_before: int | None = None,
        title: str | None = None,
        muted: bool | None = None,
        speaker: str | None = None,
    ) -> HeadChange | None:
        """Move the session to `target` (with `title` / `muted` in the same write), conditional on the statuses
        `target` may come from: INVALID_TRANSITION names the status found. `speaker`: the connection asking must
        be the session's speaker connection. `only_if_speakerless_before` (the sweep): None (nothing to change)
        when the session has a speaker again, or not for long enough. Its events: `sessionUpdated`, and a
        `sessionEnded` after it on an end."""
        self._require_speaker(head, speaker)
        sources = legal_sources(target)
        condition = self._as_speaker(ex.SESSION_STATUS.is_in(sources), speaker)
        if only_if_speakerless_before is not None:
            since = head.speakerlessSince
            if head.status in sources and (
                head.speakerConnectionId or since is None or since >= only_if_speakerless_before
            ):
                return None
            condition &= _SPEAKER.absent() & _SPEAKERLESS_SINCE.lt(only_if_speakerless_before)
        require_transition(head.status, target)
        now = self.clock()
        sets: dict[str, Any] = {"status": target, "updatedAt": now}
        if title is not None:
            sets["title"] = title
        if muted is not None:
            sets["muted"] = muted
        removes: tuple[str, ...] = ()
        closes: tuple[dict[str, Any], ...] = ()
        if target is SessionStatus.ENDED:
            sets |= {"endedAt": now, "expiresAt": now // 1000 + ended_ttl_days * 86400}
            removes = ("speakerlessSince",)
            closes = self.seats_closed(head, sets["expiresAt"])  # no join seats anyone from the end's commit on
        return HeadChange(condition, sets, removes, closes)

    def session_update(
        self,
        head: Session,
        *,
        title: str | None = None,
        muted: bool | None = None,
        speaker: str | None = None,
        channels: Sequence[str] | None = None,
    ) -> HeadChange | None:
        """Change title, muted and/or the declared channels of a joinable session (`speaker` as in
        `status_change`). Asking only for the `muted` the session already has changes nothing: None (no event, no
        seq used). `channels` replaces the list, with its counts (a removed channel keeps its count until its
        listeners are moved), only while the counts are still the head's (a join meanwhile: drafted again)."""
        self._require_joinable(head)
        self._require_speaker(head, speaker)
        if title is None and channels is None and muted is not None and head.muted == muted:
            return None
        sets: dict[str, Any] = {"updatedAt": self.clock()}
        if title is not None:
            sets["title"] = title
        if muted is not None:
            sets["muted"] = muted
        condition = self._as_speaker(ex.JOINABLE, speaker)
        declared: tuple[dict[str, Any], ...] = ()
        if channels is not None and head.seatShards:  # a keynote session's counts are on its shards: only the list
            sets["channels"] = list(channels)
            declared = self.seats_declare(head, channels)
        elif channels is not None:
            counted = {name: count for name, count in head.channelCounts.items() if count > 0}
            sets |= {
                "channels": list(channels),
                "channelCounts": counted | {n: head.channelCounts.get(n, 0) for n in channels},
            }
            condition &= _CHANNEL_COUNTS.absent() | _CHANNEL_COUNTS.eq(head.channelCounts)
        if title is None and channels is None and muted is not None:  # only a change of `muted` is a change
            condition &= (_MUTED.absent() | _MUTED.ne(True)) if muted else _MUTED.eq(True)
        return HeadChange(condition, sets, items=declared)

    def set_audiences(self, session_id: str, owner_id: str, audiences: Mapping[str, str]) -> Session:
        """Who hears presence and reactions (`presence`, `reactions`: `speaker` or `public`) of a joinable session of
        `owner_id`: the session as it is now. Not a stream event: neither is in the public view."""
        change = codec.partial_changes(Session, audiences)
        try:
            item = self._update_item(keys.session_key(session_id), change, ex.JOINABLE & _OWNER.eq(owner_id))
        except _ConditionFailed as refused:
            session = self._joinable_session(session_id, refused.item)
            raise NotOwner(session) from None
        return codec.decode_as(item, Session)

    def broadcast_change(
        self, head: Session, *, speaker: str | None = None, channel_heads: Mapping[str, int] | None = None
    ) -> HeadChange:
        """Broadcasts: only while the session is active and not muted (SessionPaused / SessionMuted, the session's
        state in the same write), so a refused broadcast never uses up a seq. `speaker` as in `status_change`.
        `channel_heads`: the channel streams it also writes to, each with its head as read; each must be declared
        (InvalidChannel), here and in the write (a PATCH that drops it meanwhile refuses the write)."""
        self._require_joinable(head)
        self._require_speaker(head, speaker)
        heads = dict(channel_heads or {})
        for channel in heads:
            if not head.declares(channel):
                raise InvalidChannel(channel, head.channels)
        if head.status is SessionStatus.PAUSED:
            raise SessionPaused(head.sessionId)
        if head.muted:
            raise SessionMuted(head.sessionId)
        live = ex.SESSION_STATUS.eq(SessionStatus.ACTIVE) & (_MUTED.absent() | _MUTED.eq(False))
        for channel in heads:
            live &= _declares(channel)
        return HeadChange(self._as_speaker(live, speaker), channel_heads=heads)

    def iter_speakerless(self, cutoff_ms: int) -> Iterator[Session]:
        """Joinable sessions that have had no speaker since before `cutoff_ms` (the sweep's work list)."""
        before = keys.speakerless_before(cutoff_ms)
        for shard in range(keys.SPEAKERLESS_SHARDS):
            yield from self._query_gsi2_before(Session, keys.speakerless_partition(shard), before)

    # ------------------------------------------------------------ connections

    @_upgrades_legacy_items
    def register_connection(
        self, connection: Connection, *, owner_id: str | None = None, name: str | None = None
    ) -> Connection:
        """Register a connection in one transaction with its session's check and count: the connection as
        registered (in the partition its session spreads it to, `Connection.partition`).

        Listener: the session must exist, be joinable and have room; `listenerCount` goes up by one, and so does
        its channel's entry in `channelCounts`. Speaker (`owner_id` given): the session must exist, be joinable
        and belong to `owner_id`. A channel must be one the session declares (InvalidChannel), checked in the
        same write. Either way the session is listed for the sweep's check of its connections
        (`lastRegisteredAt`). A refusal comes from the transaction's cancellation (the old session item), with no
        extra read; a session spread over more partitions than guessed (`connectionPartitions`) is written again
        in the right one.

        Repeatable: a cancellation that shows this very connection already registered (its two items there,
        as this call writes them) is its own earlier commit, and succeeds. DynamoDB already answers a retried
        transaction with the same ClientRequestToken so; this covers a retry that arrives with another one.
        """
        partitions, seat_shards = self.known_layout(connection.sessionId)  # a wrong guess is refused, then learnt
        while True:
            placed = connection.model_copy(
                update={"partition": keys.connection_partition_of(connection.connectionId, partitions)}
            )
            if seat_shards and connection.role == "listener":
                registered = self._take_seat(placed, seat_shards, name)
            else:
                registered = self._register(placed, owner_id, partitions, seat_shards, name)
            if isinstance(registered, Connection):
                return registered
            self.learn_layout(registered)
            partitions, seat_shards = registered.connectionPartitions, registered.seatShards

    def _register(
        self, connection: Connection, owner_id: str | None, partitions: int, seat_shards: int, name: str | None = None
    ) -> Connection | Session:
        """One try of `register_connection` through the session item, guessing the session's layout: the connection
        when registered, the session found when its layout is another."""
        now = self.clock()
        session_key = keys.session_key(connection.sessionId)
        condition = ex.JOINABLE & _layout_is(partitions, seat_shards) & _declares(connection.channel)
        if connection.role == "speaker":
            changes = codec.speaker_joins(connection.sessionId, connection.connectionId, now)
            update = self._update_request(session_key, changes, condition & _OWNER.eq(owner_id))
        else:
            update = self._update_request(
                session_key,
                codec.connection_registers(connection.sessionId, now),
                condition & (_LISTENERS.absent() | _LISTENERS.lt(_MAX_LISTENERS)),
                add={_LISTENERS: 1},
                increments=channel_moves({connection.channel: 1}),
            )
        refused = self._register_with(connection, update, name)
        if refused is None:
            return connection
        if isinstance(refused, Connection):
            return refused
        session = self._joinable_session(connection.sessionId, refused.get("Item"))
        if (session.connectionPartitions, session.seatShards) != (partitions, seat_shards):
            return session
        if not session.declares(connection.channel):
            raise InvalidChannel(str(connection.channel), session.channels) from None
        if connection.role == "speaker":
            raise NotOwner(session) from None
        raise SessionFull(session.sessionId, session.maxListeners) from None

    def _take_seat(self, connection: Connection, seat_shards: int, name: str | None = None) -> Connection | Session:
        """A listener's registration in a keynote session: one transaction claims a seat on one seat shard (its
        hashed one first, then the next while they are full) with the connection's two items; the session item is
        neither read nor written. The connection as registered (`seat`: its shard); the session found when it
        turns out not to be sharded so (no such shard). SessionFull once every shard is full: the shards'
        capacities add up to `maxListeners`, so exactly that many listeners are ever seated."""
        for shard in layout.try_order(connection.connectionId, seat_shards):
            seated = connection.model_copy(update={"seat": shard})
            refused = self._register_with(seated, self.seat_claim(seated), name)
            if refused is None:
                return seated
            if isinstance(refused, Connection):
                return refused
            found = refused.get("Item")
            if not found:  # no such shard: the session is gone, or laid out otherwise than guessed
                return self._joinable_session(connection.sessionId, self._session_item(connection.sessionId))
            shard_found = codec.decode_as(found, SeatShard)
            if shard_found.closed:
                self._joinable_session(connection.sessionId, self._session_item(connection.sessionId))
            if connection.channel is not None and connection.channel not in shard_found.channels:
                raise InvalidChannel(connection.channel, shard_found.channels)
        full = self._joinable_session(connection.sessionId, self._session_item(connection.sessionId))
        raise SessionFull(full.sessionId, full.maxListeners)

    def _register_with(
        self, connection: Connection, update: dict[str, Any], name: str | None = None
    ) -> Connection | dict[str, Any] | None:
        """The transaction of a registration: `update` (the seat: on the session item or a shard) and the
        connection's two items. None when it committed; the connection as registered when an earlier commit of this
        very registration is found (a retry; its seat may be on another shard); else the refusal's reason for
        `update` (with the item found)."""
        # The lookup item is the whole connection: a refusal that finds it as this registration writes it is a retry.
        lookup = {**self._new_item(codec.encode(connection)), "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        member = PresenceMember(
            sessionId=connection.sessionId,
            connectionId=connection.connectionId,
            role=connection.role,
            userId=connection.userId,
            name=name,
            channel=connection.channel,
            joinedAt=connection.connectedAt,
            expiresAt=connection.expiresAt,
        )
        bans = [] if connection.role == "speaker" else ban_subjects(connection.userId, name)
        try:
            self._transact(
                [
                    {"Update": update},
                    {"Put": self._new_item(codec.encode(connection.entry()))},
                    {"Put": lookup},
                    {"Put": self.member_put(member)},
                    *({"ConditionCheck": check} for check in self.bans_check(connection.sessionId, bans)),
                ]
            )
            return None
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _failed(reasons, 1) and _failed(reasons, 2):
                earlier = _registered_as(reasons[2].get("Item"), connection)
                if earlier is not None:
                    return earlier  # committed before: a retry of this registration
            if any(_failed(reasons, 4 + k) for k in range(len(bans))):
                raise Banned(connection.sessionId) from None
            if not _failed(reasons, 0):
                raise
            reason: dict[str, Any] = reasons[0]
            return reason

    def get_connection(self, connection_id: str) -> Connection | None:
        item = self._get_item(keys.connection_lookup_key(connection_id), consistent=True)
        return codec.decode_as(item, Connection) if item else None

    def _connection_in_session(self, session_id: str, connection_id: str) -> Connection | None:
        """A connection item whose lookup is gone, where code before channels kept it (a half registration
        under the new keys is the sweep's: without its lookup nothing says which channel's range holds it)."""
        item = self._get_item(keys.legacy_connection_key(session_id, connection_id), consistent=True)
        return codec.decode_as(item, Connection) if item else None

    def unregister_connection(
        self, connection_id: str, *, session_id: str | None = None, registered_by: int | None = None
    ) -> Connection | None:
        """Remove a connection and, in the same transaction, its effect on the session.

        A listener's leave decrements `listenerCount` (never below zero, never creating a session item);
        the current speaker's leave clears `speakerConnectionId` and starts the speakerless clock.
        Returns the removed connection, or None when it was already gone (repeatable).

        `session_id`: where to look when the connection's lookup item is gone (a half registration: TTL
        deletes a connection's two items at different times). `registered_by` (epoch ms): a connection
        registered after it is left alone (None), as a 410 for a connection inside its handshake says nothing
        about it.
        """
        connection = self.get_connection(connection_id)
        if connection is None and session_id is not None:
            connection = self._connection_in_session(session_id, connection_id)
        if connection is None:
            return None
        if registered_by is not None and connection.connectedAt > registered_by:
            return None
        return self.unregister(connection)

    @_upgrades_legacy_items
    def unregister(self, connection: AnyConnection) -> AnyConnection | None:
        """`unregister_connection` of a connection record already read (from either of its two items): the
        connection, or None when someone else unregistered it first. Half registrations go too: a connection
        item without its lookup with its effect on the session; a lookup without its connection item alone (the
        sweep's count repair then counts the items that are left)."""
        connection_id = connection.connectionId
        deletes = [
            {"Delete": self._existing(codec.connection_item_key(connection))},
            {"Delete": self._existing(keys.connection_lookup_key(connection_id), must_exist=False)},
        ]
        session_key = keys.session_key(connection.sessionId)
        if connection.role == "speaker":
            session_update = self._update_request(
                session_key,
                codec.speaker_leaves(connection.sessionId, self.clock()),
                _SPEAKER.eq(connection_id) & ex.JOINABLE,
            )
        elif connection.seat is not None:
            session_update = self.seat_release(connection)  # a keynote session's: its seat shard, not the session
        else:
            counted = _LISTENERS.gt(0)
            if connection.channel is not None:
                counted &= _CHANNEL_COUNTS.entry(connection.channel).gt(0)
            session_update = self._update_request(
                session_key,
                codec.Changes(),
                counted,
                add={_LISTENERS: -1},
                increments=channel_moves({connection.channel: -1}),
            )
        member = self.member_delete(connection.sessionId, connection_id)
        try:
            self._transact([*deletes, {"Update": session_update}, {"Delete": member}])
            return connection
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _failed(reasons, 0):
                # Its connection item is gone: unregistered by someone else (the count moved once, by them), or a
                # lookup left alone. Only the lookup then, if it is still there.
                return connection if self._delete_if_there(keys.connection_lookup_key(connection_id)) else None
            if not _failed(reasons, 2):
                raise
            self._upgrade_if_legacy(reasons[2].get("Item"))
        # The session part does not apply (session gone or ended, speaker replaced): just the records.
        try:
            self._transact([*deletes, {"Delete": member}])
        except ClientError as error:
            if _cancellation_reasons(error) is None:
                raise
            return None
        return connection

    @_upgrades_legacy_items
    def switch_channel(self, connection: AnyConnection, channel: str | None, *, head_seq: int) -> AnyConnection:
        """Move a registered connection to `channel` (None: to no channel) in ONE transaction: its item under the
        old channel deleted, its item under the new one put, its lookup pointed there, the counts moved, only while
        the session declares the channel (InvalidChannel) and the new channel's head is still `head_seq`
        (ChannelMoved: read it again). So there is no moment in which the connection is on neither channel, and
        every event of the new channel after `head_seq` is sent to it. The connection as it is now; unchanged when
        already there. ConnectionNotFound when it is gone (or moved meanwhile: the caller reads it again).

        A connection registered by code before channels moves to the new keys (partition 0 of a one-partition
        session: the only kind older code registered)."""
        if connection.channel == channel and connection.partition is not None:
            return connection
        old_key = codec.connection_item_key(connection)
        found = self._get_item(old_key, consistent=True)  # the entry, with what a recovery set on it
        if found is None:
            raise ConnectionNotFound()
        current = codec.decode_entry(found)
        partition = current.partition if current.partition is not None else 0
        stored = {name: getattr(current, name) for name in ConnectionEntry.model_fields}
        # A recovery's mark on the old channel's stream says nothing of the new one's (whose events after `head_seq`
        # all reach it).
        moved = connection.model_copy(
            update={**stored, "channel": channel, "partition": partition, "liveFromChannelSeq": None}
        )
        lookup = codec.connection_moves(moved)
        session_key = keys.session_key(connection.sessionId)
        condition = ex.JOINABLE & _declares(channel)
        if current.partition is None:
            condition &= _partitions_are(1)
        counts = channel_moves({current.channel: -1, channel: 1}) if current.role == "listener" else {}
        if current.channel is not None and counts:
            condition &= _CHANNEL_COUNTS.entry(current.channel).gt(0)
        actions: list[dict[str, Any]] = [
            {"Delete": {**self._existing(old_key), "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": self._new_item(codec.encode(moved.entry()))},
            {
                "Update": self._update_request(
                    keys.connection_lookup_key(connection.connectionId), lookup, ex.ITEM_EXISTS
                )
            },
            {"Update": self._update_request(session_key, codec.Changes(), condition, increments=counts)},
        ]
        if current.seat is not None:  # a keynote session's listener: its counts are on its seat shard
            actions[3] = {"Update": self.seat_switch(current, channel)}
        if channel is not None:
            actions.append({"ConditionCheck": self._head_check(connection.sessionId, channel, head_seq)})
        try:
            self._transact(actions)
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _failed(reasons, 0) or _failed(reasons, 1) or _failed(reasons, 2):
                raise ConnectionNotFound() from None
            if channel is not None and _failed(reasons, 4):
                raise ChannelMoved(channel) from None
            if not _failed(reasons, 3):
                raise
            found = reasons[3].get("Item")
            if current.seat is not None and found:
                shard = codec.decode_as(found, SeatShard)
                if shard.closed:
                    self._joinable_session(connection.sessionId, self._session_item(connection.sessionId))
                declared = channel is None or channel in shard.channels
                raise (
                    ConcurrentUpdate(f"session {connection.sessionId}")
                    if declared
                    else InvalidChannel(str(channel), shard.channels)
                ) from None
            session = self._joinable_session(connection.sessionId, found)
            if not session.declares(channel):
                raise InvalidChannel(str(channel), session.channels) from None
            raise ConcurrentUpdate(f"session {connection.sessionId}") from None
        # Presence follows (not in the switch's transaction: a connection registered before presence has no member).
        self.update_member(connection.sessionId, connection.connectionId, channel=channel)
        return moved

    def _delete_if_there(self, key: Mapping[str, str]) -> bool:
        try:
            self.client.delete_item(**self._existing(key))
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def iter_connections(
        self,
        session_id: str,
        *,
        page_size: int | None = None,
        shard: tuple[int, int] | None = None,
        scope: keys.ConnectionScope | None = None,
    ) -> Iterator[ConnectionEntry]:
        """Every connection of a session (or of `scope`: one channel's), as its session lists it (`ConnectionEntry`:
        what only its lookup item holds is not read): a Query per partition, page by page (never a Scan). With
        `shard=(k, n)`, only shard k of n (keys.ConnectionScope.ranges): the n shards read each once. Without a
        `scope`, the session's own (`scope_of`: one read of its item; callers holding it pass it)."""
        for item in self._connection_items(scope or self.scope_of(session_id), page_size, shard):
            yield codec.decode_entry(item)

    def scope_of(self, session_id: str) -> keys.ConnectionScope:
        """Where every connection of a session is (all its partitions, its channels' ranges), from its item; a
        session that is gone: its one partition of old (what is left of it there)."""
        item = self._session_item(session_id)
        return codec.decode_as(item, Session).connection_scope() if item else keys.ConnectionScope(session_id)

    def oldest_listeners(
        self, session_id: str, count: int, *, registered_by: int, sample: int = MAX_PAGE
    ) -> list[ConnectionEntry]:
        """Of the `count` longest registered listeners among the first `sample` connections of a session, those that
        connected by `registered_by` (epoch ms): what a full session's join asks API Gateway about. One Query page,
        bounded however large the session, then one consistent BatchGetItem of the `count` lookup items, which alone
        say when they connected; the page ranks them by `expiresAt`, which their registrations set from the time they
        registered. A listener whose lookup is gone is a half registration TTL left behind: registered long ago."""
        first = islice(self.iter_connections(session_id, page_size=sample), sample)
        oldest = sorted((c for c in first if c.role == "listener"), key=lambda c: c.expiresAt)[:count]
        found = self._batch_get([keys.connection_lookup_key(c.connectionId) for c in oldest])
        connected_at = {c.connectionId: c.connectedAt for c in (codec.decode_as(item, Connection) for item in found)}
        return [c for c in oldest if connected_at.get(c.connectionId, registered_by) <= registered_by]

    def iter_connection_targets(
        self,
        session_id: str,
        *,
        page_size: int | None = None,
        first_page_size: int | None = None,
        shard: tuple[int, int] | None = None,
        scope: keys.ConnectionScope | None = None,
    ) -> Iterator[ConnectionTarget]:
        """The same connections as `iter_connections`, as a fan-out needs them (ID and role): the Query
        projects only those attributes, so each page is smaller and each item cheaper to decode. With
        `first_page_size`, the first Query asks for that many (a fan-out posts to them sooner), each next one for twice
        the one before, up to `page_size` (dynamo.next_page_limit)."""
        read = scope or self.scope_of(session_id)
        for item in self._connection_items(read, page_size, shard, ex.TARGET_PROJECTION, first_page_size):
            yield codec.decode_target(item)

    def _connection_items(
        self,
        scope: keys.ConnectionScope,
        page_size: int | None,
        shard: tuple[int, int] | None,
        projection: Sequence[ex.Attr] = (),
        first_page_size: int | None = None,
    ) -> Iterator[codec.Item]:
        extra: dict[str, Any] = {"Limit": page_size} if page_size else {}
        if first_page_size:
            extra = {"Limit": first_page_size, "grow_to": page_size}
        for read in scope.ranges(shard, legacy=READ_LEGACY_CONNECTION_KEYS):
            in_partition = ex.PK.eq(read.partition)
            if read.bounds is None:
                condition, high = in_partition & ex.SK.begins_with(read.prefix), None
            else:
                low, high = read.bounds
                condition = in_partition & ex.SK.between(low, high)
            # Strongly consistent: a fan-out right after `end` must see every listener registered before it.
            # Patient: a fan-out that gave up on a throttled page would reach none of the connections after it.
            for item in self._query_items(
                ConsistentRead=True, patient=True, **extra, **ex.params(key_condition=condition, projection=projection)
            ):
                # BETWEEN includes its high bound: an SK equal to it is the next shard's (a one-character ID).
                if high is None or item.get(keys.SK, {}).get("S") != high:
                    yield item

    def count_listeners(self, session_id: str) -> int:
        return sum(1 for c in self.iter_connections(session_id) if c.role == "listener")

    def registered_listeners(self, session: Session) -> list[ConnectionEntry]:
        """Every listener connection registered to `session`, in all its partitions and channels."""
        registered = self.iter_connections(session.sessionId, scope=session.connection_scope())
        return [c for c in registered if c.role == "listener"]

    def iter_connections_registered_before(self, cutoff_ms: int) -> Iterator[Connection]:
        """Every connection registered before `cutoff_ms`, from GSI2's CONNECTED# partitions (oldest first in
        each shard): the sweep's list of connections to ask API Gateway about."""
        before = keys.connected_before(cutoff_ms)
        for shard in range(keys.CONNECTED_SHARDS):
            yield from self._query_gsi2_before(Connection, keys.connected_partition(shard), before)

    def repair_listener_count(self, session_id: str) -> tuple[int, int] | None:
        """Make a joinable session's `listenerCount` the number of listener connections registered to it, and each
        entry of its `channelCounts` the number registered on that channel.

        Returns (was, now) of `listenerCount` when it wrote (equal when only a channel's count was wrong), None
        when the counts were right, the session is not joinable, or a count moved between the read and the write.
        The write is conditional on the counts read: any join, leave or switch meanwhile moves them with its own
        connection item (one transaction), so counts that are still the ones read mean the registered set counted
        is still the right one; counts that moved are left to the next sweep.
        """
        try:
            session = self.get_session(session_id, consistent=True)
        except SessionNotFound:
            return None
        if not session.joinable:
            return None
        if session.seatShards:  # a keynote session's counts are on its seat shards, each set to its own listeners
            return self.repair_seats(session, self.registered_listeners(session))
        listeners = self.registered_listeners(session)
        per_channel = _registered_per_channel(session, listeners)
        values: dict[str, Any] = {}
        if len(listeners) != session.listenerCount:
            values[_LISTENERS.name] = len(listeners)
        if _occupied(per_channel) != _occupied(session.channelCounts):
            values[_CHANNEL_COUNTS.name] = per_channel
        if not values:
            return None
        condition = _LISTENERS.eq(session.listenerCount) & (
            _CHANNEL_COUNTS.absent() | _CHANNEL_COUNTS.eq(session.channelCounts)
        )
        try:
            self.client.update_item(
                **self._update_request(keys.session_key(session_id), codec.partial_changes(Session, values), condition)
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return session.listenerCount, len(listeners)

    def iter_sessions_with_connections(self) -> Iterator[str]:
        """The IDs of sessions a connection registered to since the sweep last found them empty (GSI3, keys only):
        every session that may hold a connection item, whatever became of its lookup item."""
        for shard in range(keys.OCCUPIED_SHARDS):
            for item in self._query_items(
                IndexName=keys.GSI3, **ex.params(key_condition=ex.key(keys.GSI3PK).eq(keys.occupied_partition(shard)))
            ):
                yield keys.session_id_of_partition(item[keys.PK]["S"])

    def without_lookup(self, connections: Sequence[ConnectionEntry]) -> list[ConnectionEntry]:
        """The connection items among `connections` whose lookup item is gone: half registrations."""
        return self._missing(connections, lambda c: keys.connection_lookup_key(c.connectionId))

    def without_connection_item(self, lookups: Sequence[Connection]) -> list[Connection]:
        """The lookup items among `lookups` whose connection item is gone: half registrations the other way."""
        return self._missing(lookups, codec.connection_item_key)

    def _missing(
        self, connections: Sequence[AnyConnection], key_of: Callable[[AnyConnection], dict[str, str]]
    ) -> list[AnyConnection]:
        there = self._existing_keys([key_of(c) for c in connections])
        return [c for c in connections if (key_of(c)[keys.PK], key_of(c)[keys.SK]) not in there]

    def _existing_keys(self, wanted: Sequence[Mapping[str, str]]) -> set[tuple[str, str]]:
        """Which of `wanted` exist, as (PK, SK): consistent BatchGetItems of 100 keys, reading the keys only."""
        items = self._batch_get(wanted, projection=[ex.PK, ex.SK])
        return {(item[keys.PK]["S"], item[keys.SK]["S"]) for item in items}

    def forget_if_empty(self, session_id: str) -> bool:
        """Take a session off the sweep's list when it has no connection registered and counts none (or has
        ended): one conditional write that loses to any registration meanwhile (it moves the count or the
        speaker). True when it was taken off."""
        if next(self.iter_connections(session_id, page_size=1), None) is not None:
            return False
        # A keynote session's joins never write its item (nothing would put it back on the list): kept until ended.
        empty = (_LISTENERS.absent() | _LISTENERS.eq(0)) & (_SEAT_SHARDS.absent() | _SEAT_SHARDS.eq(0))
        condition = ex.SESSION_STATUS.eq(SessionStatus.ENDED) | (empty & _SPEAKER.absent())
        try:
            self._update_item(keys.session_key(session_id), codec.sweep_found_no_connection(), condition)
        except _ConditionFailed:
            return False
        return True

    # ------------------------------------------------------------ messages

    @_upgrades_legacy_items
    def new_message(self, session_id: str, sender_id: str, text: str, *, ttl_days: int = 30) -> Message:
        """A message to publish, validated before anything is written (a refused text uses up no seq)."""
        now = self.clock()
        return Message(
            messageId=new_record_id(MESSAGE_ID_PREFIX, now),
            sessionId=session_id,
            senderId=sender_id,
            text=text,
            createdAt=now,
            expiresAt=now // 1000 + ttl_days * 86400,
        )

    def message_change(
        self, head: Session, message: Message, *, speaker: str | None = None
    ) -> tuple[Message, HeadChange]:
        """Store `message` of a joinable session at the head's next seq (`Message.seq`), in the publish's write:
        a message is stored exactly when its event is kept. `speaker` as in `status_change`."""
        self._require_joinable(head)
        self._require_speaker(head, speaker)
        numbered = message.model_copy(update={"seq": head.seq + 1})
        put = {"Put": self._new_item(codec.encode(numbered))}
        return numbered, HeadChange(self._as_speaker(ex.JOINABLE, speaker), items=(put,))

    def list_messages(
        self, session_id: str, *, since: int = 0, limit: int, cursor: str | None, max_bytes: int | None = None
    ) -> Page[Message]:
        """A page of messages, oldest first. `max_bytes` also bounds the page by size (a WebSocket answer
        must fit in one API Gateway message): it ends early, with a cursor, when the next item would pass it."""
        bounds = keys.messages_range(since)
        if bounds is None:
            return Page([], None)
        low, high = bounds
        return self._page(
            SESSION_MESSAGES,
            keys.session_partition(session_id),
            Message,
            limit=limit,
            cursor=cursor,
            newest_first=False,
            sort_range=(low, high),
            max_bytes=max_bytes,
        )

    # ------------------------------------------------------------ artifacts

    def create_artifact(self, artifact: Artifact) -> Artifact:
        try:
            self.client.put_item(**self._new_item(codec.encode(artifact)))
        except ClientError as error:
            if _is_condition_failure(error):
                raise ArtifactNotFound(artifact.artifactId) from None  # an ID clash: never overwrite
            raise
        return artifact

    def list_artifacts(
        self, session_id: str, *, limit: int, cursor: str | None, shared_only: bool = False
    ) -> Page[Artifact]:
        """A session's root artifacts newest first; `shared_only`: every artifact shared with listeners, results
        included (a listener has no other way to them): the roots newest first, then the results of each tree,
        the newest tree first, each tree's newest first (their keys' order: ART# sorts after ARC#)."""
        spec, bounds = (SESSION_ARTIFACTS, None)
        if shared_only:
            spec, bounds = SESSION_ARTIFACTS_AND_RESULTS, keys.ARTIFACTS_RANGE
        return self._page(
            spec,
            keys.session_partition(session_id),
            Artifact,
            limit=limit,
            cursor=cursor,
            newest_first=True,
            sort_range=bounds,
            only=ex.field(Artifact, "shared").eq(True) if shared_only else None,
        )

    def iter_awaiting_upload(self, cutoff_ms: int) -> Iterator[Artifact]:
        """Artifacts created before `cutoff_ms` that are still pending with no upload recorded (the sweep's
        list of uploads whose storage notification may never have come)."""
        before = keys.awaiting_upload_before(cutoff_ms)
        for shard in range(keys.AWAITING_UPLOAD_SHARDS):
            yield from self._query_gsi2_before(Artifact, keys.awaiting_upload_partition(shard), before)

    @_upgrades_legacy_items
    def artifact_change(
        self,
        current: Artifact,
        target: ArtifactStatus | None,
        *,
        error: str | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> tuple[Artifact, HeadChange] | None:
        """Move an artifact along its lifecycle in the publish's write, conditional on the status it came from:
        (after, change). A refusal is ItemRefused; `refused_artifact` reads the artifact it found.

        `facts` are other fields written in the same change (`target` None: the facts alone): `shared`, a
        completing PATCH's `processor`, or what storage reported of the uploaded object (`etag`, `sizeBytes`...),
        then also conditional on the etag found. None: nothing to change (the same object notified again, a
        repeated `shared`), so nothing is written or told."""
        upload = facts is not None and "etag" in facts
        if upload and facts is not None and current.etag == facts["etag"]:
            return None
        if target is None and all(getattr(current, name) == value for name, value in (facts or {}).items()):
            return None
        now = self.clock()
        update: dict[str, Any] = {"updatedAt": now}
        if target is not None:
            require_transition(current.status, target)
            update["status"] = target
        if target is ArtifactStatus.PROCESSING:
            update["processingStartedAt"] = now
        if target in (ArtifactStatus.COMPLETED, ArtifactStatus.FAILED):
            update["completedAt"] = now
            started = current.processingStartedAt
            update["processingMs"] = max(0, now - started) if started is not None else None
        if target is ArtifactStatus.FAILED:
            update["error"] = error or "processing failed"
        update |= facts or {}  # a processingMs the processor measured wins over the one derived here
        after = current.model_copy(update=update)
        change = codec.changes(after, list(update))
        condition = _ARTIFACT_STATUS.eq(current.status)
        if upload:
            condition &= _ARTIFACT_ETAG.absent() if current.etag is None else _ARTIFACT_ETAG.eq(current.etag)
        request = self._update_request(codec.key_of(after), change, condition)
        return after, HeadChange(items=({"Update": request},))

    def refused_artifact(self, session_id: str, artifact_id: str, refused: ItemRefused) -> Artifact:
        """The artifact an `artifact_change` refusal found (its status moved; one older code wrote is upgraded and
        read again): ArtifactNotFound when gone."""
        if not refused.item:
            raise ArtifactNotFound(artifact_id)
        try:
            self._upgrade_if_legacy(refused.item)
        except LegacyItemUpgraded:
            return self.get_artifact(session_id, artifact_id)
        return codec.decode_as(refused.item, Artifact)

    # ------------------------------------------------------------ plumbing

    @staticmethod
    def _as_speaker(condition: ex.Condition, speaker: str | None) -> ex.Condition:
        """`condition`, and (with `speaker`) only while `speaker` is the session's speaker connection."""
        return condition if speaker is None else condition & _SPEAKER.eq(speaker)

    @staticmethod
    def _require_speaker(session: Session, speaker: str | None) -> None:
        if speaker is not None and session.speakerConnectionId != speaker:
            raise NotCurrentSpeaker()

    @staticmethod
    def _require_joinable(session: Session) -> None:
        if not session.joinable:
            raise SessionEnded(session.sessionId, session.status.value)

    def _joinable_session(self, session_id: str, old_item: _OldItem | None) -> Session:
        """The session an old item holds, still joinable; else raise the refusal it explains: not found, or ended
        (with the actual status)."""
        if not old_item:
            raise SessionNotFound(session_id)
        self._upgrade_if_legacy(old_item)
        session = codec.decode_as(old_item, Session)
        if not session.joinable:
            raise SessionEnded(session_id, session.status.value)
        return session
