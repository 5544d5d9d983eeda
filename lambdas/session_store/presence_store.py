"""The store's presence operations: members (`PRESENCE#<id>` / `M#<connectionId>`), bans (`BAN#<subject>` in the same
partition) and the conflation slots of notices (`NOTICE#<id>` / `<kind>`).

None of these items is the session item or a connection item: the fan-out's Query never reads a member's name or
data, and the writes at presence rate (a member's data, a slot's pending changes) keep off the session item.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from session_schema import codec, keys
from session_schema.errors import Banned
from session_schema.models import SCHEMA_VERSION, Ban, NoticeSlot, PresenceMember

from . import expressions as ex
from .aws_errors import is_condition_failure
from .dynamo import ListingSpec, Page, Table, cancellation_reasons, failed

SESSION_MEMBERS = ListingSpec(None, keys.PK, keys.SK, keys.MEMBER_PREFIX)
_MEMBER_CHANNEL = ex.field(PresenceMember, "channel")
_MEMBER_ROLE = ex.field(PresenceMember, "role")
_MEMBER_USER = ex.field(PresenceMember, "userId")
_MEMBER_NAME = ex.field(PresenceMember, "name")
_PENDING = ex.field(NoticeSlot, "pending")
_SENT_AT = ex.field(NoticeSlot, "sentAt")
_TRAILING_DUE = ex.field(NoticeSlot, "trailingDue")
_PENDING_SINCE = ex.field(NoticeSlot, "pendingSince")
_UNSET: Any = object()


def _is_missing_map(error: ClientError) -> bool:
    """DynamoDB's refusal of a path into a map attribute the item does not have yet."""
    code: object = error.response.get("Error", {}).get("Code")
    return code == "ValidationException"


def ban_subjects(user_id: str | None, name: str | None) -> list[str]:
    """What a ban keeps out, of a connection: its signed-in user, and its display name."""
    subjects = [f"user:{user_id}"] if user_id is not None else []
    return subjects + ([f"name:{name}"] if name is not None else [])


class Refused(Exception):
    """A conditional write whose condition did not hold: the item found (None: there was none)."""

    def __init__(self, item: Mapping[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


class PresenceStore(Table):
    def _if(
        self, key: Mapping[str, str], change: codec.Changes, condition: ex.Condition, returns: str = "NONE"
    ) -> dict[str, Any]:
        """One conditional UpdateItem of a presence item: its attributes as `returns` asks; Refused (with the item
        found) when `condition` does not hold."""
        try:
            response: dict[str, Any] = self.client.update_item(
                TableName=self.table_name,
                Key=codec.serialize_key(key),
                **ex.params(update=change, condition=condition),
                ReturnValues=returns,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Refused(error.response.get("Item")) from None
            raise
        return response

    # ------------------------------------------------------------ members and bans

    def member_put(self, member: PresenceMember) -> dict[str, Any]:
        """The transaction Put of a member (with its connection's registration); overwrites a stale one."""
        return {"TableName": self.table_name, "Item": codec.encode(member)}

    def member_delete(self, session_id: str, connection_id: str) -> dict[str, Any]:
        """The transaction Delete of a member (with its connection's leave); nothing there is fine."""
        return self._existing(keys.member_key(session_id, connection_id), must_exist=False)

    def bans_check(self, session_id: str, subjects: Sequence[str]) -> list[dict[str, Any]]:
        """Transaction ConditionChecks that none of `subjects` is banned from the session."""
        return [
            {
                "TableName": self.table_name,
                "Key": codec.serialize_key(keys.ban_key(session_id, subject)),
                **ex.params(condition=ex.PK.absent()),
            }
            for subject in subjects
        ]

    def ban(self, ban: Ban) -> None:
        """Keep `ban.subject` out of its session (a repeat renews it)."""
        self.client.put_item(TableName=self.table_name, Item=codec.encode(ban))

    def update_member(
        self, session_id: str, connection_id: str, *, name: Any = _UNSET, data: Any = _UNSET, channel: Any = _UNSET
    ) -> PresenceMember | None:
        """Set a registered member's `name`, `data` (JSON text) or `channel` (None removes it): the member as it is
        now, or None when it is not registered (gone, or registered before presence)."""
        given = {"name": name, "data": data, "channel": channel}
        values = {field: value for field, value in given.items() if value is not _UNSET and value is not None}
        removed = [field for field, value in given.items() if value is None]
        change = codec.partial_changes(PresenceMember, values, removed)
        try:
            response = self._if(keys.member_key(session_id, connection_id), change, ex.ITEM_EXISTS, "ALL_NEW")
        except Refused:
            return None
        return codec.decode_as(response["Attributes"], PresenceMember)

    def name_listener(self, session_id: str, connection_id: str, name: str) -> bool:
        """Set a registered listener's display name, in one transaction with the check that the name is not banned
        from the session (as its registration checks the name it gives): False when the member is not registered;
        Banned (naming `name`) when the name is, the member left as it was."""
        change = codec.partial_changes(PresenceMember, {"name": name})
        key = codec.serialize_key(keys.member_key(session_id, connection_id))
        update = {"TableName": self.table_name, "Key": key, **ex.params(update=change, condition=ex.ITEM_EXISTS)}
        checks = self.bans_check(session_id, ban_subjects(None, name))
        try:
            self._transact([{"Update": update}, *({"ConditionCheck": check} for check in checks)])
        except ClientError as error:
            reasons = cancellation_reasons(error)
            if reasons is None:
                raise
            if failed(reasons, 1):
                raise Banned(session_id, field="name") from None
            if failed(reasons, 0):
                return False
            raise
        return True

    def get_member(self, session_id: str, connection_id: str) -> PresenceMember | None:
        item = self._get_item(keys.member_key(session_id, connection_id), consistent=True)
        return codec.decode_as(item, PresenceMember) if item else None

    def list_members(
        self, session_id: str, *, limit: int, cursor: str | None, channel: str | None = None
    ) -> Page[PresenceMember]:
        """One page of a session's members in connection-ID order (`channel`: only those on it)."""
        only = _MEMBER_CHANNEL.eq(channel) if channel is not None else None
        return self._page(
            SESSION_MEMBERS,
            keys.presence_partition(session_id),
            PresenceMember,
            limit=limit,
            cursor=cursor,
            newest_first=False,
            only=only,
        )

    def all_members(self, session_id: str) -> dict[str, PresenceMember]:
        """Every member of a session by connection ID (for a notice: only below PRESENCE_MEMBERS_MAX)."""
        query = ex.params(
            key_condition=ex.PK.eq(keys.presence_partition(session_id)) & ex.SK.begins_with(keys.MEMBER_PREFIX)
        )
        members = self._query_all(PresenceMember, ConsistentRead=True, **query)
        return {member.connectionId: member for member in members}

    def listeners_banned_by(self, session_id: str, user_id: str | None, name: str | None) -> list[PresenceMember]:
        """The session's listener members that a ban of `user_id` and `name` keeps out: one strongly consistent
        Query of the member range (every page), filtered. A ban is rare and the member list is the session's size,
        so no index is kept for it; a registration after the ban is refused by the ban itself."""
        matches = [field.eq(value) for field, value in ((_MEMBER_USER, user_id), (_MEMBER_NAME, name)) if value]
        if not matches:
            return []
        banned = matches[0] if len(matches) == 1 else matches[0] | matches[1]
        query = ex.params(
            key_condition=ex.PK.eq(keys.presence_partition(session_id)) & ex.SK.begins_with(keys.MEMBER_PREFIX),
            filter_condition=_MEMBER_ROLE.eq("listener") & banned,
        )
        return list(self._query_all(PresenceMember, ConsistentRead=True, **query))

    # ------------------------------------------------------------ notice slots (session_runtime/conflation.py)

    def note_change(
        self,
        session_id: str,
        kind: str,
        entries: Mapping[str, int],
        *,
        now: int,
        expires_at: int,
        add: bool = False,
        keep: bool = False,
    ) -> NoticeSlot:
        """Record changes in a slot's `pending`, each entry set (with `add`: added to; with `keep`: set only where
        none pends): the slot as it is now."""
        base = codec.partial_changes(
            NoticeSlot,
            {"sessionId": session_id, "kind": kind, "schemaVersion": SCHEMA_VERSION, "expiresAt": expires_at},
        )
        base.set[keys.KIND_ATTRIBUTE] = codec.value(codec.KIND_OF[NoticeSlot])
        paths = {_PENDING.entry(key): amount for key, amount in entries.items()}
        request = {"TableName": self.table_name, "Key": codec.serialize_key(keys.notice_key(session_id, kind))}
        changes = ex.params(
            update=base,
            increments=paths if add else None,
            assign=paths if not add and not keep else None,
            defaults={_PENDING_SINCE: now, **(paths if keep and not add else {})},
        )
        try:
            response = self.client.update_item(**request, **changes, ReturnValues="ALL_NEW")
        except ClientError as error:
            if not _is_missing_map(error):
                raise
            # A new slot has no `pending` map yet: put the map with the entries, unless another writer just did.
            first = ex.params(
                update=base,
                assign={_PENDING: dict(entries)},
                defaults={_PENDING_SINCE: now},
                condition=_PENDING.absent(),
            )
            try:
                response = self.client.update_item(**request, **first, ReturnValues="ALL_NEW")
            except ClientError as refused:
                if not is_condition_failure(refused):
                    raise
                response = self.client.update_item(**request, **changes, ReturnValues="ALL_NEW")
        return codec.decode_as(response["Attributes"], NoticeSlot)

    def claim_notice(self, session_id: str, kind: str, *, now: int, interval_ms: int) -> tuple[bool, NoticeSlot | None]:
        """Take the pending changes of a slot to send them, when none was sent within `interval_ms` and there are
        some: (True, the slot as it was, pending included). Else (False, the slot as found; None: no slot)."""
        # `pending` emptied, not removed: the next change puts its entry straight in (no map to make first).
        change = codec.partial_changes(NoticeSlot, {"sentAt": now, "pending": {}}, remove=["pendingSince"])
        due = _SENT_AT.absent() | _SENT_AT.lt(now - interval_ms + 1)
        try:
            response = self._if(keys.notice_key(session_id, kind), change, _PENDING.size_gt(0) & due, "ALL_OLD")
        except Refused as refused:
            return False, codec.decode_as(refused.item, NoticeSlot) if refused.item else None
        return True, codec.decode_as(response["Attributes"], NoticeSlot)

    def schedule_notice(
        self, session_id: str, kind: str, *, due: int, replacing: int | None, stale_before: int
    ) -> bool:
        """Mark a trailing notice due at `due` (epoch ms) as scheduled, unless one is already (another than
        `replacing`, and not older than `stale_before`: one whose message never came is replaced). True: the
        caller schedules it."""
        condition = _TRAILING_DUE.absent() | _TRAILING_DUE.lt(stale_before)
        if replacing is not None:
            condition = condition | _TRAILING_DUE.eq(replacing)
        change = codec.partial_changes(NoticeSlot, {"trailingDue": due})
        try:
            self._if(keys.notice_key(session_id, kind), change, ex.ITEM_EXISTS & condition)
        except Refused:
            return False
        return True

    def trailing_done(self, session_id: str, kind: str, due: int) -> None:
        """The trailing notice due at `due` came: the slot no longer waits for it (unless another replaced it)."""
        change = codec.partial_changes(NoticeSlot, {}, remove=["trailingDue"])
        with contextlib.suppress(Refused):  # another trailing notice replaced it: that one's mark stays
            self._if(keys.notice_key(session_id, kind), change, _TRAILING_DUE.eq(due))
