"""The session store: the only code that talks to DynamoDB.

Every state change is a conditional write, multi-item changes are transactions, and refusals come back
as domain errors that say what was actually found (the actual status, the actual limit). Items go in and
out through `codec` only.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar

import boto3
from botocore.exceptions import ClientError

from . import codec, keys
from .cursor import decode_cursor, encode_cursor
from .errors import (
    ArtifactNotFound,
    ConcurrentUpdate,
    DomainError,
    IdempotencyKeyReused,
    NotCurrentSpeaker,
    RateLimited,
    SessionEnded,
    SessionFull,
    SessionIdExhausted,
    SessionNotFound,
)
from .ids import new_epoch, new_record_id, new_session_id
from .models import Artifact, Connection, IdempotencyRecord, Message, Record, Session
from .status import ArtifactStatus, SessionStatus, require_transition

T = TypeVar("T", bound=Record)
P = ParamSpec("P")
R = TypeVar("R")
# The item a refused write hands back (ALL_OLD, or a cancellation reason's `Item`); `None` when there was none.
_OldItem: TypeAlias = Mapping[str, codec.AttributeValue]
MAX_PAGE = 100
MAX_CREATE_ATTEMPTS = 8
MAX_TRANSITION_ATTEMPTS = 4
MAX_CONFLICT_ATTEMPTS = 4  # DynamoDB cancels a transaction that meets another on the same item
MAX_UPGRADE_ATTEMPTS = 3
THROTTLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
_JOINABLE_CONDITION = "#status IN (:active, :paused)"
_SPEAKER_CONDITION = "speakerConnectionId = :speaker"
PING_SESSION_ID = "~ping"  # never a session ID: see ping()


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class ListingSpec:
    """How one paginated listing queries, so its cursors can be checked against it."""

    index: str | None
    partition_attr: str
    sort_attr: str
    sort_prefix: str

    @property
    def cursor_attributes(self) -> frozenset[str]:
        names = {keys.PK, keys.SK, self.partition_attr, self.sort_attr}
        return frozenset(names)


USER_SESSIONS = ListingSpec(keys.GSI1, keys.GSI1PK, keys.GSI1SK, keys.SESSION_PREFIX)
SESSION_MESSAGES = ListingSpec(None, keys.PK, keys.SK, keys.MSG_PREFIX)
SESSION_ARTIFACTS = ListingSpec(None, keys.PK, keys.SK, keys.ART_PREFIX)


def request_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _is_condition_failure(error: ClientError) -> bool:
    failed: bool = error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"  # untyped error
    return failed


def _cancellation_reasons(error: ClientError) -> list[dict[str, Any]] | None:
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return error.response.get("CancellationReasons") or []


def _failed(reasons: list[dict[str, Any]], index: int) -> bool:
    return index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed"


# Every attribute any writer of this table sets: a guarded rewrite also requires the ones not read to be absent.
_KNOWN_ATTRIBUTES = frozenset(
    name for model in codec.MODEL_OF.values() for name in model.model_fields
) | frozenset(keys.TABLE.key_attributes()) | {keys.KIND_ATTRIBUTE, "Data", "isActive", "requestId"}


def unchanged_condition(item: Mapping[str, Any]) -> dict[str, Any]:
    """A condition that holds only while every attribute is as it was read (none changed, none added)."""
    names, values, parts = {}, {}, []
    for i, (name, value) in enumerate(sorted(item.items())):
        names[f"#a{i}"] = name
        values[f":v{i}"] = value
        parts.append(f"#a{i} = :v{i}")
    for i, name in enumerate(sorted(_KNOWN_ATTRIBUTES - set(item))):
        names[f"#n{i}"] = name
        parts.append(f"attribute_not_exists(#n{i})")
    return {
        "ConditionExpression": " AND ".join(parts),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


class _LegacyItemUpgraded(Exception):
    """A write was refused by an item in a shape older code wrote; it is canonical now, so try again."""


def _upgrades_legacy_items(method: Callable[P, R]) -> Callable[P, R]:
    """Run a write again after it met (and upgraded) a legacy item.

    Conditions name canonical attributes (`status`, `maxListeners`), which an unmigrated item lacks: read,
    it normalizes fine, but every conditional write on it would be refused for the wrong reason (a join
    "full", a pause "changed meanwhile"). The store rewrites such an item in canonical form, guarded on it
    being unchanged, and the whole operation starts over from a fresh read.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(MAX_UPGRADE_ATTEMPTS):
            try:
                return method(*args, **kwargs)
            except _LegacyItemUpgraded:
                continue  # the item is canonical now (or someone changed it): start over from a fresh read
        raise ConcurrentUpdate("a legacy record")

    return wrapper


class SessionStore:
    def __init__(self, table_name: str, client: Any | None = None, clock: Callable[[], int] = now_ms) -> None:
        self.table_name = table_name
        self.client = client if client is not None else boto3.client("dynamodb")
        self.clock = clock

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
    ) -> tuple[Session, bool]:
        """Create a session with a fresh human-readable ID. (session, created?) — False for a replay.

        The ID is claimed by a conditional put and regenerated on collision: never read-then-write.
        With an Idempotency-Key, the session and the key are written in one transaction.
        """
        payload = {"title": title, "sourceLanguage": source_language, "maxListeners": max_listeners}
        digest = request_hash(payload)
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
            )
            put = {
                "TableName": self.table_name,
                "Item": codec.encode(session),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
            if idempotency_key is None:
                try:
                    self.client.put_item(**put)
                    return session, True
                except ClientError as error:
                    if _is_condition_failure(error):
                        continue  # the ID is taken: draw another
                    raise
            record = IdempotencyRecord(
                ownerId=owner_id,
                key=idempotency_key,
                sessionId=session.sessionId,
                requestHash=digest,
                createdAt=now,
                expiresAt=now // 1000 + idempotency_ttl_seconds,
            )
            try:
                self._transact(
                    [
                        {"Put": put},
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": codec.encode(record),
                                # A key past its TTL but not yet swept by DynamoDB counts as free.
                                "ConditionExpression": "attribute_not_exists(PK) OR expiresAt < :now",
                                "ExpressionAttributeValues": {":now": codec.value(now // 1000)},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        },
                    ]
                )
                return session, True
            except ClientError as error:
                reasons = _cancellation_reasons(error)
                if reasons is None:
                    raise
                if _failed(reasons, 1):
                    return self._replay(owner_id, idempotency_key, digest, reasons[1].get("Item")), False
                if _failed(reasons, 0):
                    continue
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
        item = self._get_item(keys.session_key(session_id), consistent=consistent)
        if item is None:
            raise SessionNotFound(session_id)
        return codec.decode_as(item, Session)

    def ping(self) -> None:
        """One cheap read that proves the table answers (health checks). Raises whatever the client raises.

        Reads the key of a session ID that can never exist (`~` is outside the ID alphabet), so it costs
        one eventually consistent read of nothing.
        """
        self.client.get_item(
            TableName=self.table_name,
            Key=codec.serialize_key(keys.session_key(PING_SESSION_ID)),
            ProjectionExpression="PK",
        )

    def list_user_sessions(self, owner_id: str, *, limit: int, cursor: str | None) -> Page[Session]:
        return self._page(
            USER_SESSIONS,
            keys.user_sessions_partition(owner_id),
            Session,
            limit=limit,
            cursor=cursor,
            newest_first=True,
        )

    @_upgrades_legacy_items
    def change_status(
        self,
        session_id: str,
        target: SessionStatus,
        *,
        ended_ttl_days: int = 30,
        only_if_speakerless_before: int | None = None,
        title: str | None = None,
        muted: bool | None = None,
        speaker: str | None = None,
    ) -> tuple[Session, Session]:
        """Move a session to `target`: (before, after). Conditional on the status it came from.

        When another writer got there first, the move is re-judged from the status actually found, so
        two racing `pause`s give one success and one INVALID_TRANSITION naming `paused -> paused`.
        `title` / `muted` are changed in the same write: all of it happens, or none.
        `speaker`: the connection asking must be the session's speaker connection, in the same write.
        """
        current = self.get_session(session_id, consistent=True)
        guard, guard_values = self._speaker_guard(speaker)
        for _ in range(MAX_TRANSITION_ATTEMPTS):
            self._require_speaker(current, speaker)
            require_transition(current.status, target)
            now = self.clock()
            update: dict[str, Any] = {"status": target, "updatedAt": now}
            if title is not None:
                update["title"] = title
            if muted is not None:
                update["muted"] = muted
            if target is SessionStatus.ENDED:
                update |= {"endedAt": now, "expiresAt": now // 1000 + ended_ttl_days * 86400, "speakerlessSince": None}
            after = current.model_copy(update=update)
            condition = "#status = :from" + guard
            values = {":from": codec.value(current.status), **guard_values}
            if only_if_speakerless_before is not None:
                condition += " AND attribute_not_exists(speakerConnectionId) AND speakerlessSince < :cutoff"
                values[":cutoff"] = codec.value(only_if_speakerless_before)
            try:
                new_item = self._update(after, update.keys(), condition, values)
                return current, codec.decode_as(new_item, Session)
            except _ConditionFailed as failed:
                if failed.item is None:
                    raise SessionNotFound(session_id) from None
                found = codec.decode_as(failed.item, Session)
                if only_if_speakerless_before is not None and found.status == current.status:
                    return current, found  # a speaker came back: nothing to sweep
                current = found
        raise ConcurrentUpdate(f"session {session_id}")

    @_upgrades_legacy_items
    def update_session(
        self, session_id: str, *, title: str | None = None, muted: bool | None = None, speaker: str | None = None
    ) -> tuple[Session, Session]:
        """Change title and/or muted on a joinable session: (before, after). `speaker` as in `change_status`."""
        current = self.get_session(session_id, consistent=True)
        if not current.joinable:
            raise SessionEnded(session_id, current.status.value)
        self._require_speaker(current, speaker)
        guard, guard_values = self._speaker_guard(speaker)
        update: dict[str, Any] = {"updatedAt": self.clock()}
        if title is not None:
            update["title"] = title
        if muted is not None:
            update["muted"] = muted
        after = current.model_copy(update=update)
        try:
            new_item = self._update(
                after, update.keys(), _JOINABLE_CONDITION + guard, self._joinable_values() | guard_values
            )
        except _ConditionFailed as failed:
            self._require_speaker(self._joinable_session(session_id, failed.item), speaker)
            raise ConcurrentUpdate(f"session {session_id}") from None
        return current, codec.decode_as(new_item, Session)

    @_upgrades_legacy_items
    def next_broadcast_seq(self, session_id: str, *, live_only: bool = False, speaker: str | None = None) -> Session:
        """Claim the next broadcast sequence number of a joinable session; the returned session carries it.

        `live_only`: the session must also be `active` and not muted (SessionPaused / SessionMuted
        otherwise), checked in the same conditional write, so a refused broadcast never uses up a number.
        `speaker`: the connection asking must be the session's speaker connection, in the same write.
        """
        guard, guard_values = self._speaker_guard(speaker)
        if live_only:
            condition = "attribute_exists(PK) AND #status = :active AND (attribute_not_exists(muted) OR muted = :false)"
            values = {":active": codec.value(SessionStatus.ACTIVE), ":false": codec.value(False)}
        else:
            condition = f"attribute_exists(PK) AND {_JOINABLE_CONDITION}"
            values = self._joinable_values()
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=codec.serialize_key(keys.session_key(session_id)),
                UpdateExpression="ADD seq :one",
                ConditionExpression=condition + guard,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":one": codec.value(1), **values, **guard_values},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            old = error.response.get("Item")
            session = self._joinable_session(session_id, old)
            self._require_speaker(session, speaker)
            if session.status is SessionStatus.PAUSED:
                raise SessionPaused(session_id) from None
            raise SessionMuted(session_id) from None
        return codec.decode_as(response["Attributes"], Session)

    def iter_speakerless(self, cutoff_ms: int) -> Iterator[Session]:
        """Joinable sessions that have had no speaker since before `cutoff_ms` (the sweep's work list)."""
        for shard in range(keys.SPEAKERLESS_SHARDS):
            yield from self._query_all(
                Session,
                IndexName=keys.GSI2,
                KeyConditionExpression="GSI2PK = :pk AND GSI2SK < :before",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.speakerless_partition(shard)},
                    ":before": {"S": keys.speakerless_before(cutoff_ms)},
                },
            )

    # ------------------------------------------------------------ connections

    @_upgrades_legacy_items
    def register_connection(self, connection: Connection, *, owner_id: str | None = None) -> None:
        """Register a connection in one transaction with its session's check and count.

        Listener: the session must exist, be joinable and have room; `listenerCount` goes up by one.
        Speaker (`owner_id` given): the session must exist, be joinable and belong to `owner_id`.
        A refusal comes from the transaction's cancellation (the old session item), with no extra read.
        """
        session_key = codec.serialize_key(keys.session_key(connection.sessionId))
        if connection.role == "speaker":
            update = {
                "Key": session_key,
                "UpdateExpression": "SET speakerConnectionId = :conn REMOVE speakerlessSince, GSI2PK, GSI2SK",
                "ConditionExpression": f"attribute_exists(PK) AND {_JOINABLE_CONDITION} AND ownerId = :owner",
                "ExpressionAttributeValues": {
                    ":conn": codec.value(connection.connectionId),
                    ":owner": codec.value(owner_id),
                    **self._joinable_values(),
                },
            }
        else:
            update = {
                "Key": session_key,
                "UpdateExpression": "ADD listenerCount :one",
                "ConditionExpression": (
                    f"attribute_exists(PK) AND {_JOINABLE_CONDITION} "
                    "AND (attribute_not_exists(listenerCount) OR listenerCount < maxListeners)"
                ),
                "ExpressionAttributeValues": {":one": codec.value(1), **self._joinable_values()},
            }
        update |= {
            "TableName": self.table_name,
            "ExpressionAttributeNames": {"#status": "status"},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            self._transact(
                [
                    {"Update": update},
                    {"Put": self._new_item(codec.encode(connection))},
                    {"Put": self._new_item(codec.encode_connection_lookup(connection))},
                ]
            )
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None or not _failed(reasons, 0):
                raise
            old = reasons[0].get("Item")
            session = self._joinable_session(connection.sessionId, old)
            if connection.role == "speaker":
                raise NotOwner(session) from None
            raise SessionFull(session.sessionId, session.maxListeners) from None

    def get_connection(self, connection_id: str) -> Connection | None:
        item = self._get_item(keys.connection_lookup_key(connection_id), consistent=True)
        return codec.decode_as(item, Connection) if item else None

    @_upgrades_legacy_items
    def unregister_connection(self, connection_id: str) -> Connection | None:
        """Remove a connection and, in the same transaction, its effect on the session.

        A listener's leave decrements `listenerCount` (never below zero, never creating a session item);
        the current speaker's leave clears `speakerConnectionId` and starts the speakerless clock.
        Returns the removed connection, or None when it was already gone (repeatable).
        """
        connection = self.get_connection(connection_id)
        if connection is None:
            return None
        deletes = [
            {"Delete": self._existing(keys.connection_key(connection.sessionId, connection_id))},
            {"Delete": self._existing(keys.connection_lookup_key(connection_id), must_exist=False)},
        ]
        session_key = codec.serialize_key(keys.session_key(connection.sessionId))
        now = self.clock()
        if connection.role == "speaker":
            since = keys.speakerless_index_key(connection.sessionId, now)
            session_update = {
                "Key": session_key,
                "UpdateExpression": (
                    "REMOVE speakerConnectionId SET speakerlessSince = :now, GSI2PK = :gpk, GSI2SK = :gsk"
                ),
                "ConditionExpression": f"speakerConnectionId = :conn AND {_JOINABLE_CONDITION}",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":conn": codec.value(connection_id),
                    ":now": codec.value(now),
                    ":gpk": codec.value(since[keys.GSI2PK]),
                    ":gsk": codec.value(since[keys.GSI2SK]),
                    **self._joinable_values(),
                },
            }
        else:
            session_update = {
                "Key": session_key,
                "UpdateExpression": "ADD listenerCount :minus",
                "ConditionExpression": "attribute_exists(PK) AND listenerCount > :zero",
                "ExpressionAttributeValues": {":minus": codec.value(-1), ":zero": codec.value(0)},
            }
        session_update |= {"TableName": self.table_name, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        try:
            self._transact([*deletes, {"Update": session_update}])
            return connection
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _failed(reasons, 0):
                return None  # someone else unregistered it first: the count moved once, by them
            if not _failed(reasons, 2):
                raise
            self._upgrade_if_legacy(reasons[2].get("Item"))
        # The session part does not apply (session gone or ended, speaker replaced): just the records.
        try:
            self._transact(deletes)
        except ClientError as error:
            if _cancellation_reasons(error) is None:
                raise
            return None
        return connection

    def iter_connections(self, session_id: str, *, page_size: int | None = None) -> Iterator[Connection]:
        """Every connection of a session: a Query on its partition, page by page (never a Scan)."""
        extra = {"Limit": page_size} if page_size else {}
        # Strongly consistent: a fan-out right after `end` must see every listener registered before it.
        yield from self._query_all(
            Connection,
            ConsistentRead=True,
            **extra,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :conn)",
            ExpressionAttributeValues={
                ":pk": {"S": keys.session_partition(session_id)},
                ":conn": {"S": keys.CONN_PREFIX},
            },
        )

    def count_listeners(self, session_id: str) -> int:
        return sum(1 for c in self.iter_connections(session_id) if c.role == "listener")

    def iter_connections_registered_before(self, cutoff_ms: int) -> Iterator[Connection]:
        """Every connection registered before `cutoff_ms`, from GSI2's CONNECTED# partitions (oldest first in
        each shard): the sweep's list of connections to ask API Gateway about."""
        for shard in range(keys.CONNECTED_SHARDS):
            yield from self._query_all(
                Connection,
                IndexName=keys.GSI2,
                KeyConditionExpression="GSI2PK = :pk AND GSI2SK < :before",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.connected_partition(shard)},
                    ":before": {"S": keys.connected_before(cutoff_ms)},
                },
            )

    def repair_listener_count(self, session_id: str) -> tuple[int, int] | None:
        """Make a joinable session's `listenerCount` the number of listener connections registered to it.

        Returns (was, now) when it wrote, None when the count was right, the session is not joinable, or the
        count moved between the read and the write. The write is conditional on the count read: any join or
        leave meanwhile moves the count with its own connection item (one transaction), so a count that is
        still the one read means the registered set counted is still the right number; one that moved is
        left to the next sweep.
        """
        try:
            session = self.get_session(session_id, consistent=True)
        except SessionNotFound:
            return None
        if not session.joinable:
            return None
        registered = self.count_listeners(session_id)
        if registered == session.listenerCount:
            return None
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=codec.serialize_key(keys.session_key(session_id)),
                UpdateExpression="SET listenerCount = :registered",
                ConditionExpression="listenerCount = :seen",
                ExpressionAttributeValues={
                    ":registered": codec.value(registered),
                    ":seen": codec.value(session.listenerCount),
                },
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return session.listenerCount, registered

    # ------------------------------------------------------------ messages

    @_upgrades_legacy_items
    def append_message(
        self, session_id: str, sender_id: str, text: str, *, ttl_days: int = 30, speaker: str | None = None
    ) -> Message:
        """Store a message, in one transaction with a check that the session is joinable (and, with
        `speaker`, that this connection is its speaker connection)."""
        guard, guard_values = self._speaker_guard(speaker)
        now = self.clock()
        message = Message(
            messageId=new_record_id("msg", now),
            sessionId=session_id,
            senderId=sender_id,
            text=text,
            createdAt=now,
            expiresAt=now // 1000 + ttl_days * 86400,
        )
        try:
            self._transact(
                [
                    {
                        "ConditionCheck": {
                            "TableName": self.table_name,
                            "Key": codec.serialize_key(keys.session_key(session_id)),
                            "ConditionExpression": f"attribute_exists(PK) AND {_JOINABLE_CONDITION}{guard}",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": self._joinable_values() | guard_values,
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {"Put": self._new_item(codec.encode(message))},
                ]
            )
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None or not _failed(reasons, 0):
                raise
            self._require_speaker(self._joinable_session(session_id, reasons[0].get("Item")), speaker)
            raise ConcurrentUpdate(f"session {session_id}") from None  # refused, yet nothing explains why
        return message

    def list_messages(
        self, session_id: str, *, since: int = 0, limit: int, cursor: str | None, max_bytes: int | None = None
    ) -> Page[Message]:
        """A page of messages, oldest first. `max_bytes` also bounds the page by size (a WebSocket answer
        must fit in one API Gateway message): it ends early, with a cursor, when the next item would pass it."""
        low, high = keys.messages_range(since)
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

    def get_artifact(self, session_id: str, artifact_id: str) -> Artifact:
        item = self._get_item(keys.artifact_key(session_id, artifact_id), consistent=True)
        if item is None:
            raise ArtifactNotFound(artifact_id)
        return codec.decode_as(item, Artifact)

    def list_artifacts(self, session_id: str, *, limit: int, cursor: str | None) -> Page[Artifact]:
        return self._page(
            SESSION_ARTIFACTS,
            keys.session_partition(session_id),
            Artifact,
            limit=limit,
            cursor=cursor,
            newest_first=True,
        )

    @_upgrades_legacy_items
    def change_artifact_status(
        self, session_id: str, artifact_id: str, target: ArtifactStatus, *, error: str | None = None
    ) -> tuple[Artifact, Artifact]:
        """Move an artifact along its lifecycle: (before, after), conditional on the status it came from."""
        current = self.get_artifact(session_id, artifact_id)
        for _ in range(MAX_TRANSITION_ATTEMPTS):
            require_transition(current.status, target)
            now = self.clock()
            update: dict[str, Any] = {"status": target, "updatedAt": now}
            if target is ArtifactStatus.PROCESSING:
                update["processingStartedAt"] = now
            if target in (ArtifactStatus.COMPLETED, ArtifactStatus.FAILED):
                update["completedAt"] = now
                started = current.processingStartedAt
                update["processingMs"] = max(0, now - started) if started is not None else None
            if target is ArtifactStatus.FAILED:
                update["error"] = error or "processing failed"
            after = current.model_copy(update=update)
            try:
                new_item = self._update(after, update.keys(), "#status = :from", {":from": codec.value(current.status)})
                return current, codec.decode_as(new_item, Artifact)
            except _ConditionFailed as failed:
                if failed.item is None:
                    raise ArtifactNotFound(artifact_id) from None
                current = codec.decode_as(failed.item, Artifact)
        raise ConcurrentUpdate(f"artifact {artifact_id}")

    def delete_artifact(self, session_id: str, artifact_id: str) -> None:
        self.client.delete_item(
            TableName=self.table_name, Key=codec.serialize_key(keys.artifact_key(session_id, artifact_id))
        )

    # ------------------------------------------------------------ plumbing

    @staticmethod
    def _speaker_guard(speaker: str | None) -> tuple[str, dict[str, Any]]:
        """(condition suffix, values) holding only while `speaker` is the session's speaker connection."""
        if speaker is None:
            return "", {}
        return f" AND {_SPEAKER_CONDITION}", {":speaker": codec.value(speaker)}

    @staticmethod
    def _require_speaker(session: Session, speaker: str | None) -> None:
        if speaker is not None and session.speakerConnectionId != speaker:
            raise NotCurrentSpeaker()

    def _joinable_values(self) -> dict[str, Any]:
        return {":active": codec.value(SessionStatus.ACTIVE), ":paused": codec.value(SessionStatus.PAUSED)}

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

    def _new_item(self, item: codec.Item) -> dict[str, Any]:
        return {"TableName": self.table_name, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}

    def _existing(self, key: Mapping[str, str], must_exist: bool = True) -> dict[str, Any]:
        spec: dict[str, Any] = {"TableName": self.table_name, "Key": codec.serialize_key(key)}
        if must_exist:
            spec["ConditionExpression"] = "attribute_exists(PK)"
        return spec

    def _get_item(self, key: Mapping[str, str], *, consistent: bool) -> codec.Item | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=codec.serialize_key(key), ConsistentRead=consistent
        )
        item: codec.Item | None = response.get("Item")  # boto3's responses are untyped
        return item

    def _update(self, after: Record, fields: Any, condition: str, values: dict[str, Any]) -> codec.Item:
        """UpdateItem bringing the stored item to `after` on `fields`, if `condition` holds."""
        change = codec.changes(after, list(fields))
        names = {"#status": "status"}
        expression_values = dict(values)
        sets = []
        for i, (name, av) in enumerate(change.set.items()):
            names[f"#s{i}"] = name
            expression_values[f":s{i}"] = av
            sets.append(f"#s{i} = :s{i}")
        removes = []
        for i, name in enumerate(change.remove):
            names[f"#r{i}"] = name
            removes.append(f"#r{i}")
        expression = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
        if "#status" not in condition:
            names.pop("#status")
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=codec.serialize_key(codec.key_of(after)),
                UpdateExpression=expression.strip(),
                ConditionExpression=f"attribute_exists(PK) AND ({condition})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=expression_values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                self._upgrade_if_legacy(error.response.get("Item"))
                raise _ConditionFailed(error.response.get("Item")) from None
            raise
        attributes: codec.Item = response["Attributes"]  # ReturnValues=ALL_NEW: the whole item, as stored
        return attributes

    def _upgrade_if_legacy(self, old_item: _OldItem | None) -> None:
        """Rewrite a refused write's item in canonical form when older code wrote it; then start over."""
        if not old_item or codec.is_canonical(old_item):
            return
        try:
            self.client.put_item(
                TableName=self.table_name, Item=codec.canonical_item(old_item), **unchanged_condition(old_item)
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            # Someone else changed (or upgraded) it meanwhile: the fresh read of the retry sees that.
        raise _LegacyItemUpgraded()

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """TransactWriteItems, retried (with jitter) when it was cancelled only by a concurrent transaction.

        A `TransactionConflict` is not a refusal: nothing was judged, another transaction held the item.
        botocore does not retry it. A throttled part is RATE_LIMITED. Condition failures go to the caller.
        """
        for attempt in range(MAX_CONFLICT_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as error:
                reasons = _cancellation_reasons(error)
                codes = {reason.get("Code") for reason in reasons or []}
                if reasons is None or "ConditionalCheckFailed" in codes:
                    raise
                if codes & THROTTLE_REASONS:
                    raise RateLimited() from None
                if "TransactionConflict" not in codes:
                    raise
            if attempt == MAX_CONFLICT_ATTEMPTS - 1:
                raise ConcurrentUpdate("the session")
            time.sleep(random.uniform(0, 0.02 * 2**attempt))

    def _query_all(self, model: type[T], **query: Any) -> Iterator[T]:
        """Every item of a Query, following LastEvaluatedKey through each 1 MB page."""
        request = {"TableName": self.table_name, **query}
        while True:
            response = self.client.query(**request)
            for item in response.get("Items", []):
                yield codec.decode_as(item, model)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def _page(
        self,
        spec: ListingSpec,
        partition: str,
        model: type[T],
        *,
        limit: int,
        cursor: str | None,
        newest_first: bool,
        sort_range: tuple[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Page[T]:
        """One page of a listing. Asks for one item more than `limit` to know whether a next page exists.

        With `max_bytes`, the page also stops before the item that would take the items' JSON past it
        (always keeping one), and the cursor continues from there."""
        limit = max(1, min(limit, MAX_PAGE))
        values: dict[str, Any] = {":pk": {"S": partition}}
        if sort_range:
            condition = f"{spec.partition_attr} = :pk AND {spec.sort_attr} BETWEEN :low AND :high"
            values |= {":low": {"S": sort_range[0]}, ":high": {"S": sort_range[1]}}
        else:
            condition = f"{spec.partition_attr} = :pk AND begins_with({spec.sort_attr}, :prefix)"
            values[":prefix"] = {"S": spec.sort_prefix}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
            "Limit": limit + 1,
        }
        if spec.index:
            request["IndexName"] = spec.index
        if cursor:
            start = decode_cursor(
                cursor,
                attributes=spec.cursor_attributes,
                partition=(spec.partition_attr, partition),
                sort_prefix=(spec.sort_attr, spec.sort_prefix),
                sort_range=sort_range,
            )
            request["ExclusiveStartKey"] = codec.serialize_key(start)
        response = self.client.query(**request)
        raw_items = response.get("Items", [])
        # DynamoDB also stops at 1 MB per page: then fewer items come back, with a LastEvaluatedKey.
        has_more = len(raw_items) > limit or bool(response.get("LastEvaluatedKey") and raw_items)
        raw_items = raw_items[:limit]
        if max_bytes is not None:
            fitting = _items_within(raw_items, max_bytes)
            has_more = has_more or fitting < len(raw_items)
            raw_items = raw_items[:fitting]
        next_cursor = None
        if has_more:
            last = codec.deserialize(raw_items[-1])
            next_cursor = encode_cursor({name: last[name] for name in spec.cursor_attributes})
        return Page([codec.decode_as(item, model) for item in raw_items], next_cursor)


def _items_within(raw_items: list[dict[str, Any]], max_bytes: int) -> int:
    """How many leading items fit in `max_bytes` of JSON (at least one). Measured on the whole stored
    item, a superset of any view of it, so the bound holds for whatever the caller sends on."""
    used = 0
    for count, raw in enumerate(raw_items):
        used += len(json.dumps(codec.deserialize(raw), default=str, ensure_ascii=False).encode()) + 1
        if used > max_bytes and count > 0:
            return count
    return len(raw_items)


class _ConditionFailed(Exception):
    def __init__(self, item: _OldItem | None) -> None:
        super().__init__("condition failed")
        self.item = item


class NotOwner(Exception):
    """A signed-in caller tried to connect as speaker to a session they do not own (they join as listener)."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.sessionId)
        self.session = session


class SessionPaused(DomainError):
    """A live-only operation (a broadcast) on a paused session."""

    code, status = "SESSION_PAUSED", 409

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} is paused; resume it first")


class SessionMuted(DomainError):
    """A live-only operation (a broadcast) on a muted session."""

    code, status = "SESSION_MUTED", 409

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} is muted; unmute it first")
