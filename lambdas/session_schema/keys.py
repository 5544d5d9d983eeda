"""Every key of the single table, and the table's definition.

One prefix per record kind keeps kinds apart: no two kinds can share a (PK, SK) pair because every
pair starts with a kind-specific prefix. The CDK stack and the local stack both create the table from
`TABLE`, so the deployed table and the one the handlers expect cannot drift.

Access patterns:
  session by ID                      PK=SESSION#<id>        SK=META
  a session's connections            PK=SESSION#<id>        SK=CONN#<connectionId>
  a connection by connection ID      PK=CONN#<connectionId> SK=META
  a session's messages by time       PK=SESSION#<id>        SK=MSG#<ms:013>#<messageId>
  a session's artifacts newest first PK=SESSION#<id>        SK=ART#<artifactId, time-sortable>
  a session's stream events by seq   PK=SESSION#<id>        SK=EVT#<seq:015>
  a user's sessions newest first     GSI1 GSI1PK=USER#<ownerId>   GSI1SK=SESSION#<ms:013>#<id>
  joinable sessions with no speaker  GSI2 GSI2PK=SPEAKERLESS#<shard> GSI2SK=<since ms:013>#<id>  (sparse)
  registered connections by age      GSI2 GSI2PK=CONNECTED#<shard>   GSI2SK=<connectedAt ms:013>#<connectionId>
                                     (the lookup items; the sweep asks API Gateway which are still there)
  sessions that had a connection     GSI3 GSI3PK=OCCUPIED#<shard>    GSI3SK=<sessionId>  (sparse, keys only)
                                     (set by every registration, cleared by the sweep once it finds none:
                                     the sweep's list of sessions whose connections it checks for halves)
  an idempotent create               PK=IDEMPOTENCY#<ownerId>#<key> SK=META
"""

from __future__ import annotations

import hashlib
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
MSG_PREFIX = "MSG#"
ART_PREFIX = "ART#"
EVT_PREFIX = "EVT#"
SEQ_DIGITS = 15  # zero-padded so the sort key orders events by seq
MS_DIGITS = 13  # epoch ms, zero-padded so sort keys order by time (`<ms:013>` above)
USER_PREFIX = "USER#"
IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
SPEAKERLESS_PREFIX = "SPEAKERLESS#"
META = "META"
SPEAKERLESS_SHARDS = 8  # spreads the sweep's index over partitions instead of one hot key
CONNECTED_PREFIX = "CONNECTED#"
CONNECTED_SHARDS = 16  # every connect and leave writes this index: spread wider than the speakerless one
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


def occupied_partition(shard: int) -> str:
    return f"{OCCUPIED_PREFIX}{shard}"


def occupied_index_key(session_id: str) -> dict[str, str]:
    shard = hashlib.sha256(session_id.encode()).digest()[0] % OCCUPIED_SHARDS
    return {GSI3PK: occupied_partition(shard), GSI3SK: session_id}


def session_id_of_partition(partition: str) -> str:
    """The session ID a session item's PK names (a keys-only index entry carries only the keys)."""
    return partition.removeprefix(SESSION_PREFIX)


def connection_key(session_id: str, connection_id: str) -> dict[str, str]:
    return {PK: SESSION_PREFIX + session_id, SK: CONN_PREFIX + connection_id}


# A large session's fan-out is split into shards that read only their own connections, with no Scan and no
# coordinator: a shard is a contiguous range of the connection SK, by the connection ID's first character.
# API Gateway's IDs are base64 of random bytes, so their first character is uniform over this alphabet
# (in DynamoDB's byte order) and the shards are even. Any other ID still falls in exactly one shard.
CONNECTION_ID_ALPHABET = "".join(sorted("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
MAX_CONNECTION_SHARDS = len(CONNECTION_ID_ALPHABET)


def connection_shard_range(session_id: str, shard: int, shards: int) -> tuple[str, str]:
    """SK bounds [low, high) of shard `shard` of `shards` of a session's connections. Every SK starting
    with CONN# is in exactly one shard (the first starts at CONN#, the last ends where CONN# ends)."""
    if not 0 <= shard < shards <= MAX_CONNECTION_SHARDS:
        raise ValueError(f"shard {shard} of {shards}: at most {MAX_CONNECTION_SHARDS} shards")

    def bound(k: int) -> str:
        if k == 0:
            return CONN_PREFIX
        if k == shards:
            return CONN_PREFIX[:-1] + chr(ord(CONN_PREFIX[-1]) + 1)  # just past every CONN#... key
        return CONN_PREFIX + CONNECTION_ID_ALPHABET[k * len(CONNECTION_ID_ALPHABET) // shards]

    return bound(shard), bound(shard + 1)


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


def artifact_key(session_id: str, artifact_id: str) -> dict[str, str]:
    return {PK: SESSION_PREFIX + session_id, SK: ART_PREFIX + artifact_id}


def idempotency_key(owner_id: str, key: str) -> dict[str, str]:
    return {PK: f"{IDEMPOTENCY_PREFIX}{owner_id}#{key}", SK: META}
