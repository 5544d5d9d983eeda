"""DynamoDB plumbing of the session store: requests built from codec changes, conditional writes that hand back
the item that refused them, transactions retried on conflicts, paged queries with checked cursors.

Nothing here knows a session's rules; store.py's operations do. A write refused by an item older code wrote
upgrades it first (legacy.py) so the operation starts over.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

import boto3
from botocore.exceptions import ClientError

from session_schema import codec, keys
from session_schema.cursor import CursorSeal, decode_cursor, encode_cursor
from session_schema.errors import ConcurrentUpdate, RateLimited
from session_schema.models import Record

from . import expressions as ex
from .aws_errors import THROTTLE_REASONS, is_condition_failure
from .legacy import upgrade_if_legacy
from .throttle_retry import retry_throttled

T = TypeVar("T", bound=Record)
# The item a refused write hands back (ALL_OLD, or a cancellation reason's `Item`); `None` when there was none.
OldItem: TypeAlias = Mapping[str, codec.AttributeValue]
MAX_PAGE = 100
MAX_CONFLICT_ATTEMPTS = 4  # DynamoDB cancels a transaction that meets another on the same item


def now_ms() -> int:
    return int(time.time() * 1000)


def next_page_limit(limit: int, cap: int) -> int:
    """The Limit of a growing read's next Query page: twice the page before, at most `cap`. A fan-out reads a small
    first page, then pages that double (its posts start soon, and each next page is read while the one before is posted:
    a page read in about the time its predecessor takes to post), then full ones."""
    return min(2 * limit, cap)


def page_limits(items: int, first: int, cap: int) -> list[int]:
    """The Limit of each Query of a growing read of `items` items: `first`, then each `next_page_limit` of the one
    before; a page that fills to its Limit ends with a LastEvaluatedKey, so one more Query finds the rest (or
    nothing)."""
    limits, limit, left = [first], first, items
    while left >= limit:
        left -= limit
        limit = next_page_limit(limit, cap)
        limits.append(limit)
    return limits


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
SESSION_ARTIFACTS_AND_RESULTS = ListingSpec(None, keys.PK, keys.SK, keys.ARTIFACTS_PREFIX)


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]] | None:
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return error.response.get("CancellationReasons") or []


def failed(reasons: list[dict[str, Any]], index: int) -> bool:
    return index < len(reasons) and reasons[index].get("Code") == "ConditionalCheckFailed"


class ConditionFailed(Exception):
    def __init__(self, item: OldItem | None) -> None:
        super().__init__("condition failed")
        self.item = item


class Table:
    """One DynamoDB table, through the codec."""

    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        clock: Callable[[], int] = now_ms,
        *,
        cursor_seal: CursorSeal | None = None,
    ) -> None:
        self.table_name = table_name
        self.client = client if client is not None else boto3.client("dynamodb")
        self.clock = clock
        self._cursor_seal = cursor_seal  # None: a store that never pages (a listing asks for one)

    @property
    def cursor_seal(self) -> CursorSeal:
        if self._cursor_seal is None:
            raise RuntimeError("this store was built without a cursor seal, so it cannot page")
        return self._cursor_seal

    def _new_item(self, item: codec.Item) -> dict[str, Any]:
        return {"TableName": self.table_name, "Item": item, **ex.params(condition=ex.NEW_ITEM)}

    def _existing(self, key: Mapping[str, str], must_exist: bool = True) -> dict[str, Any]:
        spec: dict[str, Any] = {"TableName": self.table_name, "Key": codec.serialize_key(key)}
        if must_exist:
            spec |= ex.params(condition=ex.ITEM_EXISTS)
        return spec

    def _check_request(self, key: Mapping[str, str], condition: ex.Condition) -> dict[str, Any]:
        """A transaction's ConditionCheck that the item at `key` meets `condition` (a refusal hands it back)."""
        return {
            "TableName": self.table_name,
            "Key": codec.serialize_key(key),
            **ex.params(condition=condition),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _get_item(self, key: Mapping[str, str], *, consistent: bool) -> codec.Item | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=codec.serialize_key(key), ConsistentRead=consistent
        )
        item: codec.Item | None = response.get("Item")  # boto3's responses are untyped
        return item

    def _update(self, after: Record, fields: Any, condition: ex.Condition) -> codec.Item:
        """UpdateItem bringing the stored item to `after` on `fields`, if `condition` holds: the item as stored now."""
        change = codec.changes(after, list(fields))
        return self._update_item(codec.key_of(after), change, condition)

    def _update_request(
        self,
        key: Mapping[str, str],
        change: codec.Changes,
        condition: ex.Condition,
        add: Mapping[ex.Attr, int] | None = None,
        increments: Mapping[ex.Attr, int] | None = None,
    ) -> dict[str, Any]:
        """The UpdateItem (or transaction Update) of `change` plus numeric ADDs (and `increments` of numbers in
        maps), conditional on the item existing and `condition`; a refusal hands back the item (ALL_OLD)."""
        if keys.is_session_key(key):
            change = codec.session_write(change)  # every write of a session item passes the lifecycle filter
        return {
            "TableName": self.table_name,
            "Key": codec.serialize_key(key),
            **ex.params(update=change, add=add, increments=increments, condition=ex.ITEM_EXISTS & condition),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _update_item(
        self,
        key: Mapping[str, str],
        change: codec.Changes,
        condition: ex.Condition,
        *,
        add: Mapping[ex.Attr, int] | None = None,
        returns: str = "ALL_NEW",
    ) -> codec.Item:
        """One conditional UpdateItem: the item as `returns` says (ALL_NEW / ALL_OLD / UPDATED_NEW). A refusal is
        `ConditionFailed` with the item found (a legacy one is upgraded first: the caller starts over)."""
        try:
            request = self._update_request(key, change, condition, add)
            response = self.client.update_item(**request, ReturnValues=returns)
        except ClientError as error:
            if is_condition_failure(error):
                self._upgrade_if_legacy(error.response.get("Item"))
                raise ConditionFailed(error.response.get("Item")) from None
            raise
        attributes: codec.Item = response["Attributes"]  # the item, as `returns` asked
        return attributes

    def _upgrade_if_legacy(self, old_item: OldItem | None) -> None:
        """Rewrite a refused write's item in canonical form when older code wrote it; then start over."""
        upgrade_if_legacy(self.client, self.table_name, old_item)

    def _transact(self, items: list[dict[str, Any]], *, token: str | None = None) -> None:
        """TransactWriteItems, retried (with jitter) when it was cancelled only by a concurrent transaction.

        A `TransactionConflict` is not a refusal: nothing was judged, another transaction held the item.
        botocore does not retry it. A throttled part is RATE_LIMITED. Condition failures go to the caller.
        `token`: the request's ClientRequestToken (idempotent for 10 minutes: a repeat of a committed request
        succeeds without writing again); each retry here sends the same request, so the same token.
        """
        request: dict[str, Any] = {"TransactItems": items}
        if token is not None:
            request["ClientRequestToken"] = token
        for attempt in range(MAX_CONFLICT_ATTEMPTS):
            try:
                self.client.transact_write_items(**request)
                return
            except ClientError as error:
                reasons = cancellation_reasons(error)
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
        """Every item of a Query as a `model`, following LastEvaluatedKey through each 1 MB page."""
        for item in self._query_items(**query):
            yield codec.decode_as(item, model)

    def _query_items(self, *, grow_to: int | None = None, patient: bool = False, **query: Any) -> Iterator[codec.Item]:
        """Every raw item of a Query, following LastEvaluatedKey through each 1 MB page (`grow_to`: each page's Limit
        after the first is the one before it doubled, up to `grow_to` (`next_page_limit`); none: the query's Limit
        throughout). `patient`: a throttled page is tried again while the invocation has time (throttle_retry.py)."""
        request = {"TableName": self.table_name, **query}

        def query_page() -> Any:
            return self.client.query(**request)

        while True:
            response = retry_throttled(query_page) if patient else query_page()
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last
            if grow_to is not None:
                request["Limit"] = next_page_limit(request["Limit"], grow_to)

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
        only: ex.Condition | None = None,
    ) -> Page[T]:
        """One page of a listing. Asks for one item more than `limit` to know whether a next page exists.

        With `max_bytes`, the page also stops before the item that would take the items' JSON past it
        (always keeping one), and the cursor continues from there. With `only` (a filter), a page may hold fewer
        items than `limit`, or none, and still have a cursor: DynamoDB read that far and found no more."""
        limit = max(1, min(limit, MAX_PAGE))
        sort_attr = ex.key(spec.sort_attr)
        in_partition = ex.key(spec.partition_attr).eq(partition)
        if sort_range:
            condition = in_partition & sort_attr.between(*sort_range)
        else:
            condition = in_partition & sort_attr.begins_with(spec.sort_prefix)
        request: dict[str, Any] = {
            "TableName": self.table_name,
            **ex.params(key_condition=condition, filter_condition=only),
            "ScanIndexForward": not newest_first,
            "Limit": limit + 1,
        }
        if spec.index:
            request["IndexName"] = spec.index
        in_listing = (spec.partition_attr, partition)
        by_prefix = (spec.sort_attr, spec.sort_prefix)
        if cursor:
            start = decode_cursor(
                self.cursor_seal,
                cursor,
                attributes=spec.cursor_attributes,
                partition=in_listing,
                sort_prefix=by_prefix,
                sort_range=sort_range,
            )
            request["ExclusiveStartKey"] = codec.serialize_key(start)
        response = self.client.query(**request)
        raw_items = response.get("Items", [])
        # DynamoDB also stops at 1 MB per page: then fewer items come back, with a LastEvaluatedKey.
        has_more = len(raw_items) > limit or bool(response.get("LastEvaluatedKey") and (raw_items or only))
        raw_items = raw_items[:limit]
        if max_bytes is not None:
            fitting = items_within(raw_items, max_bytes)
            has_more = has_more or fitting < len(raw_items)
            raw_items = raw_items[:fitting]
        next_cursor = None
        if has_more and not raw_items:  # a filtered page that kept nothing: continue where DynamoDB stopped
            last_key = codec.deserialize(response["LastEvaluatedKey"])
            next_cursor = encode_cursor(self.cursor_seal, last_key, partition=in_listing, sort_prefix=by_prefix)
        elif has_more:
            last = codec.deserialize(raw_items[-1])
            last_key = {name: last[name] for name in spec.cursor_attributes}
            next_cursor = encode_cursor(self.cursor_seal, last_key, partition=in_listing, sort_prefix=by_prefix)
        return Page([codec.decode_as(item, model) for item in raw_items], next_cursor)

    def _query_gsi2_before(self, model: type[T], partition: str, before: str) -> Iterator[T]:
        """Every item of one GSI2 partition whose GSI2SK sorts before `before` (its time-ordered listings)."""
        return self._query_all(
            model,
            IndexName=keys.GSI2,
            **ex.params(key_condition=ex.key(keys.GSI2PK).eq(partition) & ex.key(keys.GSI2SK).lt(before)),
        )


def items_within(raw_items: list[dict[str, Any]], max_bytes: int) -> int:
    """How many leading items fit in `max_bytes` of JSON (at least one). Measured on the whole stored
    item, a superset of any view of it, so the bound holds for whatever the caller sends on."""
    used = 0
    for count, raw in enumerate(raw_items):
        used += len(json.dumps(codec.deserialize(raw), default=str, ensure_ascii=False, allow_nan=False).encode()) + 1
        if used > max_bytes and count > 0:
            return count
    return len(raw_items)
