"""Every key of the single table, and the table's definition.

One prefix per record kind keeps kinds apart: no two kinds can share a (PK, SK) pair because every
pair starts with a kind-specific prefix. The CDK stack and the local stack both create the table from
`TABLE`, so the deployed table and the one the handlers expect cannot drift.

Access patterns:
  session by ID                      PK=SESSION#<id>        SK=META
  a session's connections            PK=CONNS#<id>#<p>      SK=C#<channel>#<connectionId>  (C##<id>: no channel)
                                     (p = hash(connectionId) mod the session's connectionPartitions; a channel's
                                     connections are one begins_with range per partition, the session's are C#)
  ... as registered before channels  PK=SESSION#<id>        SK=CONN#<connectionId>  (read until they expire)
  a connection by connection ID      PK=CONN#<connectionId> SK=META  (carries connectionKey: where the other is)
  a channel's stream head            PK=SESSION#<id>        SK=HEAD#<channel>
  a channel's stream events by seq   PK=SESSION#<id>        SK=CEV#<channel>#<seq:015>
  a session's messages by time       PK=SESSION#<id>        SK=MSG#<ms:013>#<messageId>
  a session's artifacts newest first PK=SESSION#<id>        SK=ART#<artifactId, time-sortable>  (roots)
  an artifact's results (its tree)   PK=SESSION#<id>        SK=ARC#<rootId>#<artifactId>  (every depth)
  a session's stream events by seq   PK=SESSION#<id>        SK=EVT#<seq:015>
  a user's sessions newest first     GSI1 GSI1PK=USER#<ownerId>   GSI1SK=SESSION#<ms:013>#<id>
  joinable sessions with no speaker  GSI2 GSI2PK=SPEAKERLESS#<shard> GSI2SK=<since ms:013>#<id>  (sparse)
  registered connections by age      GSI2 GSI2PK=CONNECTED#<shard>   GSI2SK=<connectedAt ms:013>#<connectionId>
                                     (the lookup items; the sweep asks API Gateway which are still there)
  artifacts awaiting their upload    GSI2 GSI2PK=AWAITING_UPLOAD#<shard>
                                          GSI2SK=<createdAt ms:013>#<sessionId>#<artifactId>
                                     (sparse: pending artifacts only; the sweep confirms or fails those whose
                                     storage notification never came)
  ended sessions by retention end    GSI2 GSI2PK=RETIRING#<shard> GSI2SK=<expiresAt ms:013>#<sessionId>  (sparse:
                                     ended sessions with an expiry; the sweep purges their data, objects too)
  sessions that had a connection     GSI3 GSI3PK=OCCUPIED#<shard>    GSI3SK=<sessionId>  (sparse, keys only)
                                     (set by every registration, cleared by the sweep once it finds none:
                                     the sweep's list of sessions whose connections it checks for halves)
  an idempotent create               PK=IDEMPOTENCY#<ownerId>#<key> SK=META
  a keynote session's seat shard     PK=SEATS#<id>#<k>      SK=META  (its share of the seats and counts: layout.py)
  a keynote session's occupancy      PK=SESSION#<id>        SK=OCCUPANCY  (whether its shards, summed, have
                                     listeners, and on which channels: written by the lifecycle events function
                                     only; in the session's partition so its stream records keep the session's order)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

PK, SK = "PK", "SK"
GSI1, GSI1PK, GSI1SK = "GSI1", "GSI1PK", "GSI1SK"
GSI2, GSI2PK, GSI2SK = "GSI2", "GSI2PK", "GSI2SK"
GSI3, GSI3PK, GSI3SK = "GSI3", "GSI3PK", "GSI3SK"
TTL_ATTRIBUTE = "expiresAt"
KIND_ATTRIBUTE = "entity"  # which record an item holds (artifacts have a field named kind)

SESSION_PREFIX = "SESSION#"
CONN_PREFIX = "CONN#"
CONNS_PREFIX = "CONNS#"
CONNECTION_SK_PREFIX = "C#"  # every connection of a session (in each of its partitions)
HEAD_PREFIX = "HEAD#"
CEV_PREFIX = "CEV#"
MSG_PREFIX = "MSG#"
ART_PREFIX = "ART#"
ARC_PREFIX = "ARC#"  # results (child artifacts) of a root: a root's whole subtree is one begins_with range
EVT_PREFIX = "EVT#"
SEQ_DIGITS = 15  # zero-padded so the sort key orders events by seq
MS_DIGITS = 13  # epoch ms, zero-padded so sort keys order by time (`<ms:013>` above)
PRESENCE_PREFIX = "PRESENCE#"  # a session's presence partition: its members and its bans
MEMBER_PREFIX = "M#"
BAN_PREFIX = "BAN#"
NOTICE_PREFIX = "NOTICE#"  # a session's conflation slots
USER_PREFIX = "USER#"
IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
SEATS_PREFIX = "SEATS#"
OCCUPANCY = "OCCUPANCY"
SPEAKERLESS_PREFIX = "SPEAKERLESS#"
META = "META"
SPEAKERLESS_SHARDS = 8  # spreads the sweep's index over partitions instead of one hot key
CONNECTED_PREFIX = "CONNECTED#"
CONNECTED_SHARDS = 16  # every connect and leave writes this index: spread wider than the speakerless one
AWAITING_UPLOAD_PREFIX = "AWAITING_UPLOAD#"
AWAITING_UPLOAD_SHARDS = 4  # one entry per artifact between its create and its upload: a light index
RETIRING_PREFIX = "RETIRING#"
RETIRING_SHARDS = 4  # one entry per ended session until the sweep purges it
OCCUPIED_PREFIX = "OCCUPIED#"
OCCUPIED_SHARDS = 8  # one entry per session, written when a session first gets a connection after a sweep


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    partition_key: str
    sort_key: str
    # KEYS_ONLY: an index that only lists which items to read; a write that changes no key of it costs no index
    # write (DynamoDB writes an index entry only when its keys or projected attributes change).
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"


@dataclass(frozen=True)
class TableDefinition:
    partition_key: str
    sort_key: str
    indexes: tuple[IndexDefinition, ...]
    ttl_attribute: str

    def key_attributes(self) -> list[str]:
        names = [self.partition_key, self.sort_key]
        for index in self.indexes:
            names += [index.partition_key, index.sort_key]
        return names

    def create_table_kwargs(self, table_name: str) -> dict[str, Any]:
        """boto3 `create_table` arguments (local stack, tests, migration tooling)."""
        return {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in self.key_attributes()],
            "KeySchema": [
                {"AttributeName": self.partition_key, "KeyType": "HASH"},
                {"AttributeName": self.sort_key, "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": index.projection},
                }
                for index in self.indexes
            ],
        }


TABLE = TableDefinition(
    partition_key=PK,
    sort_key=SK,
    indexes=(
        IndexDefinition(GSI1, GSI1PK, GSI1SK),
        IndexDefinition(GSI2, GSI2PK, GSI2SK),
        IndexDefinition(GSI3, GSI3PK, GSI3SK, projection="KEYS_ONLY"),
    ),
    ttl_attribute=TTL_ATTRIBUTE,
)


def _ms(value: int) -> str:
    return f"{value:0{MS_DIGITS}d}"


def session_key(session_id: str) -> dict[str, str]:
    return {PK: SESSION_PREFIX + session_id, SK: META}


def is_session_key(key: Mapping[str, str]) -> bool:
    """Whether `key` is a session item's (`session_key`)."""
    return key.get(SK) == META and key.get(PK, "").startswith(SESSION_PREFIX)


def session_partition(session_id: str) -> str:
    return SESSION_PREFIX + session_id


def user_sessions_partition(owner_id: str) -> str:
    return USER_PREFIX + owner_id


def user_sessions_index_key(owner_id: str, created_at: int, session_id: str) -> dict[str, str]:
    return {GSI1PK: user_sessions_partition(owner_id), GSI1SK: f"{SESSION_PREFIX}{_ms(created_at)}#{session_id}"}


def speakerless_shard(session_id: str) -> int:
    return hashlib.sha256(session_id.encode()).digest()[0] % SPEAKERLESS_SHARDS


def speakerless_partition(shard: int) -> str:
    return f"{SPEAKERLESS_PREFIX}{shard}"


def speakerless_index_key(session_id: str, since: int) -> dict[str, str]:
    return {GSI2PK: speakerless_partition(speakerless_shard(session_id)), GSI2SK: f"{_ms(since)}#{session_id}"}


def speakerless_before(cutoff: int) -> str:
    """Upper bound (exclusive) on GSI2SK for sessions speakerless since before `cutoff`."""
    return _ms(cutoff)


def connected_partition(shard: int) -> str:
    return f"{CONNECTED_PREFIX}{shard}"


def connected_index_key(connection_id: str, connected_at: int) -> dict[str, str]:
    shard = hashlib.sha256(connection_id.encode()).digest()[0] % CONNECTED_SHARDS
    return {GSI2PK: connected_partition(shard), GSI2SK: f"{_ms(connected_at)}#{connection_id}"}


def connected_before(cutoff: int) -> str:
    """Upper bound (exclusive) on GSI2SK for connections registered before `cutoff` ms."""
    return _ms(cutoff)


def awaiting_upload_partition(shard: int) -> str:
    return f"{AWAITING_UPLOAD_PREFIX}{shard}"


def awaiting_upload_index_key(session_id: str, artifact_id: str, created_at: int) -> dict[str, str]:
    shard = hashlib.sha256(artifact_id.encode()).digest()[0] % AWAITING_UPLOAD_SHARDS
    return {GSI2PK: awaiting_upload_partition(shard), GSI2SK: f"{_ms(created_at)}#{session_id}#{artifact_id}"}


def awaiting_upload_before(cutoff: int) -> str:
    """Upper bound (exclusive) on GSI2SK for artifacts created before `cutoff` ms and still awaiting upload."""
    return _ms(cutoff)


def retiring_partition(shard: int) -> str:
    return f"{RETIRING_PREFIX}{shard}"


def retiring_index_key(session_id: str, expires_at_seconds: int) -> dict[str, str]:
    shard = hashlib.sha256(session_id.encode()).digest()[0] % RETIRING_SHARDS
    return {GSI2PK: retiring_partition(shard), GSI2SK: f"{_ms(expires_at_seconds * 1000)}#{session_id}"}


def retiring_before(cutoff: int) -> str:
    """Upper bound (exclusive) on GSI2SK for ended sessions whose retention ends before `cutoff` ms."""
    return _ms(cutoff)


def occupied_partition(shard: int) -> str:
    return f"{OCCUPIED_PREFIX}{shard}"


def occupied_index_key(session_id: str) -> dict[str, str]:
    shard = hashlib.sha256(session_id.encode()).digest()[0] % OCCUPIED_SHARDS
    return {GSI3PK: occupied_partition(shard), GSI3SK: session_id}


def session_id_of_partition(partition: str) -> str:
    """The session ID a session item's PK names (a keys-only index entry carries only the keys)."""
    return partition.removeprefix(SESSION_PREFIX)


def legacy_connection_key(session_id: str, connection_id: str) -> dict[str, str]:
    """Where code before channels kept a connection item (read by the fan-out until such items expire)."""
    return {PK: SESSION_PREFIX + session_id, SK: CONN_PREFIX + connection_id}


def connection_partition_of(connection_id: str, partitions: int) -> int:
    """Which of a session's `partitions` connection partitions holds a connection: stable, spread evenly."""
    return int.from_bytes(hashlib.sha256(connection_id.encode()).digest()[:4], "big") % partitions


def connections_partition(session_id: str, partition: int) -> str:
    return f"{CONNS_PREFIX}{session_id}#{partition}"


def connections_partition_parts(partition_key: str) -> tuple[str, int]:
    """(session ID, partition) a connection partition's PK names (`connections_partition`'s inverse)."""
    session_id, _, partition = partition_key.removeprefix(CONNS_PREFIX).rpartition("#")
    if not partition_key.startswith(CONNS_PREFIX) or not session_id or not partition.isdecimal():
        raise ValueError(f"not a connection partition: {partition_key!r}")
    return session_id, int(partition)


def channel_prefix(channel: str | None) -> str:
    """The SK prefix of a channel's connections (None: those on no channel)."""
    return f"{CONNECTION_SK_PREFIX}{channel or ''}#"


def connection_key(session_id: str, connection_id: str, channel: str | None, partition: int) -> dict[str, str]:
    return {PK: connections_partition(session_id, partition), SK: channel_prefix(channel) + connection_id}


def connection_id_of_sort_key(sort_key: str) -> str:
    """The connection ID a connection item's SK ends with (either key generation)."""
    if sort_key.startswith(CONN_PREFIX):
        return sort_key.removeprefix(CONN_PREFIX)
    if not sort_key.startswith(CONNECTION_SK_PREFIX) or sort_key.count("#") < 2:
        raise ValueError(f"not a connection item: {sort_key!r}")
    return sort_key.split("#", 2)[2]


def channel_of_sort_key(sort_key: str) -> str | None:
    """The channel a connection item's SK names (None: no channel, or an item from before channels)."""
    if not sort_key.startswith(CONNECTION_SK_PREFIX):
        return None
    return sort_key.split("#", 2)[1] or None


# A large session's fan-out is split into shards that read only their own connections, with no Scan and no
# coordinator: a shard is a contiguous range of the connection SK after a prefix (a channel's, or those on no
# channel), by the connection ID's first character. API Gateway's IDs are base64 of random bytes, so their
# first character is uniform over this alphabet (in DynamoDB's byte order) and the shards are even. Any other
# ID still falls in exactly one shard.
CONNECTION_ID_ALPHABET = "".join(sorted("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
MAX_CONNECTION_SHARDS = len(CONNECTION_ID_ALPHABET)


def shard_range(prefix: str, shard: int, shards: int) -> tuple[str, str]:
    """SK bounds [low, high) of shard `shard` of `shards` of the keys starting with `prefix` (which ends with
    `#`): every such SK is in exactly one shard (the first starts at `prefix`, the last ends where it ends)."""
    if not 0 <= shard < shards <= MAX_CONNECTION_SHARDS:
        raise ValueError(f"shard {shard} of {shards}: at most {MAX_CONNECTION_SHARDS} shards")

    def bound(k: int) -> str:
        if k == 0:
            return prefix
        if k == shards:
            return prefix[:-1] + chr(ord(prefix[-1]) + 1)  # just past every key with the prefix
        return prefix + CONNECTION_ID_ALPHABET[k * len(CONNECTION_ID_ALPHABET) // shards]

    return bound(shard), bound(shard + 1)


def connection_shard_range(session_id: str, shard: int, shards: int) -> tuple[str, str]:
    """`shard_range` of the connection items as code before channels kept them (`CONN#` in the session)."""
    return shard_range(CONN_PREFIX, shard, shards)


@dataclass(frozen=True)
class ConnectionRange:
    """One Query of a fan-out's read: a partition, and an SK prefix or [low, high) range in it."""

    partition: str
    prefix: str
    bounds: tuple[str, str] | None = None


@dataclass(frozen=True)
class ConnectionScope:
    """Whose connections a fan-out reads: a session's (spread over `partitions`), all of them (`channel` None and
    `whole_session`), or one channel's (`channel`; with `channel` None and not `whole_session`: those on no
    channel). `channels`: the session's declared channels, which a sharded read of the whole session slices."""

    session_id: str
    partitions: int = 1
    channel: str | None = None
    whole_session: bool = True
    channels: tuple[str, ...] = ()

    def of_channel(self, channel: str | None) -> ConnectionScope:
        """The same session's connections on `channel` only."""
        return ConnectionScope(self.session_id, self.partitions, channel, False, self.channels)

    def ranges(self, shard: tuple[int, int] | None = None, *, legacy: bool = False) -> list[ConnectionRange]:
        """The Queries that read exactly these connections: one range per partition unsharded; sharded, shard k of
        n reads slice k of each prefix (a channel's; the whole session's: those on no channel and each declared
        channel's) in each partition. `legacy`: also the connections code before channels registered (the deploy
        window: they are on no channel, so a channel's fan-out never reads them)."""
        whole = self.whole_session
        prefixes = (
            [channel_prefix(None), *map(channel_prefix, self.channels)] if whole else [channel_prefix(self.channel)]
        )
        ranges: list[ConnectionRange] = []
        for p in range(self.partitions):
            partition = connections_partition(self.session_id, p)
            if shard is None:
                ranges.append(ConnectionRange(partition, CONNECTION_SK_PREFIX if whole else prefixes[0]))
            else:
                ranges += [ConnectionRange(partition, prefix, shard_range(prefix, *shard)) for prefix in prefixes]
        if legacy and (whole or self.channel is None):
            bounds = None if shard is None else connection_shard_range(self.session_id, *shard)
            ranges.append(ConnectionRange(session_partition(self.session_id), CONN_PREFIX, bounds))
        return ranges


def connection_lookup_key(connection_id: str) -> dict[str, str]:
    return {PK: CONN_PREFIX + connection_id, SK: META}


def message_key(session_id: str, created_at: int, message_id: str) -> dict[str, str]:
    return {PK: SESSION_PREFIX + session_id, SK: f"{MSG_PREFIX}{_ms(created_at)}#{message_id}"}


MS_MAX = 10**MS_DIGITS - 1  # the largest time a sort key can hold


def messages_range(since: int) -> tuple[str, str] | None:
    """Inclusive SK bounds for a session's messages created strictly after `since` ms; None when no message can
    be (a `since` at the largest time: `since + 1` would take 14 digits and sort before every message)."""
    if since >= MS_MAX:
        return None
    return f"{MSG_PREFIX}{_ms(since + 1)}", f"{MSG_PREFIX}{'9' * MS_DIGITS}#~"


def stream_event_key(session_id: str, seq: int) -> dict[str, str]:
    return {PK: SESSION_PREFIX + session_id, SK: f"{EVT_PREFIX}{seq:0{SEQ_DIGITS}d}"}


def stream_range(from_seq: int, to_seq: int | None = None) -> tuple[str, str]:
    """Inclusive SK bounds for a session's stream events with `from_seq` <= seq (<= `to_seq`)."""
    high = "9" * SEQ_DIGITS if to_seq is None else f"{to_seq:0{SEQ_DIGITS}d}"
    return f"{EVT_PREFIX}{from_seq:0{SEQ_DIGITS}d}", f"{EVT_PREFIX}{high}"


def channel_head_key(session_id: str, channel: str) -> dict[str, str]:
    return {PK: SESSION_PREFIX + session_id, SK: HEAD_PREFIX + channel}


def channel_event_key(session_id: str, channel: str, seq: int) -> dict[str, str]:
    return {PK: SESSION_PREFIX + session_id, SK: f"{CEV_PREFIX}{channel}#{seq:0{SEQ_DIGITS}d}"}


def channel_stream_range(channel: str, from_seq: int, to_seq: int | None = None) -> tuple[str, str]:
    """Inclusive SK bounds for a channel's stream events with `from_seq` <= seq (<= `to_seq`)."""
    high = "9" * SEQ_DIGITS if to_seq is None else f"{to_seq:0{SEQ_DIGITS}d}"
    return f"{CEV_PREFIX}{channel}#{from_seq:0{SEQ_DIGITS}d}", f"{CEV_PREFIX}{channel}#{high}"


def artifact_key(session_id: str, artifact_id: str, root_id: str | None = None) -> dict[str, str]:
    """A root artifact's key, or (with `root_id`) the key of a result in that root's tree."""
    if root_id is None or root_id == artifact_id:
        return {PK: SESSION_PREFIX + session_id, SK: ART_PREFIX + artifact_id}
    return {PK: SESSION_PREFIX + session_id, SK: f"{ARC_PREFIX}{root_id}#{artifact_id}"}


# Every artifact of a session, its results (`ARC#`) and its roots (`ART#`), is one sort-key range: no other item's
# key sorts between them (tests/schema/test_artifact_key_range.py), and `~` after every character of a record ID.
ARTIFACTS_PREFIX = "AR"  # what both prefixes begin with (a listing's cursor is checked against it)
ARTIFACTS_RANGE = (ARC_PREFIX, f"{ART_PREFIX}~")


def results_prefix(root_id: str) -> str:
    """The SK prefix of every result in `root_id`'s tree, whatever its depth."""
    return f"{ARC_PREFIX}{root_id}#"


def seat_shard_key(session_id: str, shard: int) -> dict[str, str]:
    """Seat shard `shard` of a keynote session (its own partition key: joins spread over the shards)."""
    return {PK: f"{SEATS_PREFIX}{session_id}#{shard}", SK: META}


def occupancy_key(session_id: str) -> dict[str, str]:
    """A keynote session's occupancy item (lambdas/lifecycle_events/occupancy.py)."""
    return {PK: SESSION_PREFIX + session_id, SK: OCCUPANCY}


def idempotency_key(owner_id: str, key: str) -> dict[str, str]:
    return {PK: f"{IDEMPOTENCY_PREFIX}{owner_id}#{key}", SK: META}


def presence_partition(session_id: str) -> str:
    return PRESENCE_PREFIX + session_id


def member_key(session_id: str, connection_id: str) -> dict[str, str]:
    return {PK: presence_partition(session_id), SK: MEMBER_PREFIX + connection_id}


def ban_key(session_id: str, subject: str) -> dict[str, str]:
    """A ban of `subject` (`user:<userId>` or `name:<display name>`) from a session."""
    return {PK: presence_partition(session_id), SK: BAN_PREFIX + subject}


def notice_key(session_id: str, kind: str) -> dict[str, str]:
    """The conflation slot of one kind of notice (`members`: presence, `reactions`) of a session: one per session and
    kind, as one slot gates every recipient of that kind (the speaker, or everyone when the session makes it public)."""
    return {PK: NOTICE_PREFIX + session_id, SK: kind}
