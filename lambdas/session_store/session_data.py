"""A session's data as one thing to retire: every item under its partition (`SESSION#<id>`: the session item,
its stream events and channel heads, its messages, its artifacts and their results) and its moderation bans
(`PRESENCE#<id>` / `BAN#...`: user IDs and display names, which would otherwise stay until the session's own
expiry), a bounded number at a time, and the ended sessions whose retention has run out (GSI2 `RETIRING#<shard>`,
by `expiresAt`).

Connection, presence member, seat and notice items live under keys of their own and expire by TTL within
CONNECTION_TTL_SECONDS of the session's end; they are not part of this.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from botocore.exceptions import ClientError

from session_schema import codec, keys
from session_schema.models import Artifact, Session
from session_schema.status import SessionStatus

from . import expressions as ex
from .aws_errors import is_condition_failure
from .dynamo import ConditionFailed, Table

_SK = ex.key(keys.SK)
_PK = ex.key(keys.PK)
_KEEP = ex.field(Artifact, "keep")
_EXPIRES_AT = ex.field(Session, "expiresAt")


@dataclass(frozen=True)
class SessionItems:
    """One batch of a session's items to delete: their keys, and the stored objects of the artifacts among them;
    `kept`: artifacts spared (kept by their owner, or in a kept root's tree) that the batch passed over."""

    keys: list[dict[str, str]]
    object_keys: list[str]
    kept: int


class SessionData(Table):
    def kept_roots(self, session_id: str) -> set[str]:
        """The root IDs of the session's trees its owner keeps: an artifact kept anywhere in a tree keeps it whole
        (a result without its parent would be an orphan)."""
        query = ex.params(key_condition=_PK.eq(keys.SESSION_PREFIX + session_id), filter_condition=_KEEP.eq(True))
        kept = self._query_all(Artifact, ConsistentRead=True, **query)  # only artifacts have `keep`
        return {artifact.rootId or artifact.artifactId for artifact in kept}

    def session_items(self, session_id: str, *, at_most: int, spare: set[str] | None = None) -> SessionItems:
        """Up to `at_most` of the session's items other than the session item, in key order (a root's results
        sort before it: `ARC#` < `ART#`), passing over the artifacts of the trees in `spare` (root IDs)."""
        found: list[dict[str, str]] = []
        objects: list[str] = []
        kept = 0
        query = ex.params(key_condition=_PK.eq(keys.SESSION_PREFIX + session_id))
        for item in self._query_items(ConsistentRead=True, Limit=at_most + 1, **query):
            sort_key = item[keys.SK]["S"]
            if sort_key == keys.META:
                continue
            if sort_key.startswith((keys.ART_PREFIX, keys.ARC_PREFIX)):
                artifact = codec.decode_as(item, Artifact)
                if spare and (artifact.rootId or artifact.artifactId) in spare:
                    kept += 1
                    continue
                objects.append(artifact.objectKey)
            found.append({keys.PK: item[keys.PK]["S"], keys.SK: sort_key})
            if len(found) == at_most:
                break
        if len(found) < at_most:
            found += self._ban_keys(session_id, at_most=at_most - len(found))
        return SessionItems(found, objects, kept)

    def _ban_keys(self, session_id: str, *, at_most: int) -> list[dict[str, str]]:
        """Up to `at_most` keys of the session's bans (only the bans of its presence partition: its members go
        with their connections)."""
        partition = keys.presence_partition(session_id)
        query = ex.params(key_condition=_PK.eq(partition) & _SK.begins_with(keys.BAN_PREFIX), projection=[_SK])
        found: list[dict[str, str]] = []
        for item in self._query_items(ConsistentRead=True, Limit=at_most, **query):
            found.append({keys.PK: partition, keys.SK: item[keys.SK]["S"]})
            if len(found) == at_most:
                break
        return found

    def delete_keys(self, item_keys: list[dict[str, str]]) -> None:
        """Delete these items (each its own DeleteItem: a repeat after a crash deletes nothing twice)."""
        for key in item_keys:
            self.client.delete_item(TableName=self.table_name, Key=codec.serialize_key(key))

    def delete_ended_session(self, session_id: str) -> bool:
        """The session item, last, while it is ended (a write that loses to nothing: an ended session does not
        come back). False: it was already gone or is not ended."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=codec.serialize_key(keys.session_key(session_id)),
                **ex.params(condition=ex.SESSION_STATUS.eq(SessionStatus.ENDED)),
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def keep_ended_session(self, session: Session) -> None:
        """An ended session that holds kept artifacts stays (no expiry, out of the retiring index) until its owner
        deletes its data. Conditional on its expiry being the one read (a repeat changes nothing)."""
        if session.expiresAt is None:
            return
        change = codec.partial_changes(Session, {}, remove=["expiresAt"])
        condition = ex.SESSION_STATUS.eq(SessionStatus.ENDED) & _EXPIRES_AT.eq(session.expiresAt)
        try:
            self._update_item(keys.session_key(session.sessionId), change, condition)
        except ConditionFailed:
            pass  # kept already, or gone

    def iter_retiring(self, cutoff_ms: int) -> Iterator[Session]:
        """Ended sessions whose retention ends before `cutoff_ms` (the sweep purges their data)."""
        before = keys.retiring_before(cutoff_ms)
        for shard in range(keys.RETIRING_SHARDS):
            yield from self._query_gsi2_before(Session, keys.retiring_partition(shard), before)
