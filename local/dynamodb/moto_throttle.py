"""DynamoDB's per-partition and per-item throughput limits, enforced by the embedded moto (`serve --aws-limits`).

A DynamoDB partition, and a single item however isolated, serves at most 3,000 read and 1,000 write units a second
(aws_model/limits.py). Locally a partition is one partition-key value of the table or of an index. Each has a
token bucket per kind (read, write) holding one second of units, refilled continuously (local/aws_limits.py's
TokenBucket); each item of the table has one too. A request is let in while every bucket it touches holds a unit
and pays, once it ran, the units `aws_model/capacity.py` computes from the whole items it read or wrote (moto's
consumed capacity is a constant): a request that cost more leaves its buckets in debt, and they refuse until they
have refilled. A global secondary index's writes are paid by the index partition they land in.

A refusal is what DynamoDB answers an on-demand table (this table is PAY_PER_REQUEST) whose key range is hot:
- any single request: HTTP 400 `ThrottlingException`, the message DynamoDB gives it, and `throttlingReasons`
  ([{reason: TableWriteKeyRangeThroughputExceeded | TableReadKeyRangeThroughputExceeded |
  IndexWriteKeyRangeThroughputExceeded | IndexReadKeyRangeThroughputExceeded, resource: the table's or index's
  ARN}], https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ThrottlingReason.html);
- TransactWriteItems / TransactGetItems: `TransactionCanceledException`, reason `ThrottlingError` for each
  throttled action and `None` for the others (nothing is applied).
botocore's standard retry mode retries the first (it is a throttling code) and not the second, as on AWS.

Not modelled: the table-wide warm throughput of a new on-demand table (4,000 WCU / 12,000 RCU: a starting point
the table scales past, not a cap), Scan (no partition to charge), burst capacity (DynamoDB may lend a partition
unused seconds; here a second's worth at most). Applied in the embedded moto's process, where requests run one
at a time (backend._serialized), so reading an item before and after a request sees exactly its change.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_model import capacity
from aws_model.capacity import Consistency, Item, Units
from local.aws_limits import AwsLimits, TokenBucket

logger = logging.getLogger("local.dynamodb.throttle")

Kind = Literal["Read", "Write"]

THROTTLED_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table "
    "or index so please try again shortly. If exceptions persist, check if you have a hot key: "
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"
)
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
_IDLE_BUCKETS = 50_000  # past this many buckets, those full again are forgotten (a bucket at rest is a new one)
_EQUALITY = re.compile(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)")


@dataclass(frozen=True)
class Partition:
    """One partition-key value of a table (index None) or of one of its global secondary indexes."""

    table: str
    index: str | None
    value: str

    def reason(self, kind: Kind) -> str:
        return f"{'Index' if self.index else 'Table'}{kind}KeyRangeThroughputExceeded"


@dataclass
class Access:
    """One item (or one Query page) a request reads or writes, with what its units are computed from."""

    kind: Kind
    partition: Partition
    key: dict[str, Any] | None = None  # the item's primary key (None: a Query page)
    before: Item | None = None
    consistency: Consistency = "eventual"
    transactional: bool = False
    index_partitions: list[Partition] = field(default_factory=list)  # where its index writes land (writes)


class PartitionThrottle:
    """The buckets, and the judgment of one request against them (see the module's docstring)."""

    def __init__(self, limits: AwsLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._partitions: dict[tuple[Partition, Kind], TokenBucket] = {}
        self._items: dict[tuple[str, str, Kind], TokenBucket] = {}
        self.throttled = 0  # requests refused, for tests and logs
        self._pruned_at = float("-inf")

    def _bucket(self, store: dict[Any, TokenBucket], key: Any, rate: float) -> TokenBucket:
        bucket = store.get(key)
        if bucket is None:
            now = self._clock()
            if len(store) > _IDLE_BUCKETS and now - self._pruned_at >= 1.0:  # at most once a second: O(n) each
                self._pruned_at = now
                for stale in [k for k, b in store.items() if b.seconds_until(b.capacity) == 0]:
                    del store[stale]
            bucket = store[key] = TokenBucket(rate, clock=self._clock)
        return bucket

    def partition_bucket(self, partition: Partition, kind: Kind) -> TokenBucket:
        rate = self.limits.partition_read_units if kind == "Read" else self.limits.partition_write_units
        return self._bucket(self._partitions, (partition, kind), rate)

    def item_bucket(self, table: str, key: Mapping[str, Any], kind: Kind) -> TokenBucket:
        rate = self.limits.item_read_units if kind == "Read" else self.limits.item_write_units
        return self._bucket(self._items, (table, _canonical(key), kind), rate)

    def refused(self, access: Access) -> list[Partition]:
        """The partitions (the item's own counts as its partition's) that refuse this access now."""
        touched = [access.partition, *access.index_partitions]
        out = [p for p in touched if not self.partition_bucket(p, access.kind).admits()]
        if access.key is not None and not out:
            if not self.item_bucket(access.partition.table, access.key, access.kind).admits():
                out.append(access.partition)
        return out

    def charge(self, access: Access, units: float, index_units: Mapping[Partition, float]) -> None:
        self.partition_bucket(access.partition, access.kind).spend(units)
        if access.key is not None:
            self.item_bucket(access.partition.table, access.key, access.kind).spend(units)
        for partition, spent in index_units.items():
            self.partition_bucket(partition, "Write").spend(spent)


# -- what a request touches, before it runs ------------------------------------------------------------------


class _Tables:
    """The moto backend's tables, as the throttle needs them: key names, indexes, whole items by key."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def table(self, name: str) -> Any:
        return self.backend.tables[name]

    def key_of(self, table: Any, item: Mapping[str, Any]) -> dict[str, Any]:
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: item[name] for name in names}

    def item(self, table_name: str, key: Mapping[str, Any]) -> Item | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self.table(table_name)
        try:
            hash_key = DynamoType(dict(key[table.hash_key_attr]))
            range_key = DynamoType(dict(key[table.range_key_attr])) if table.range_key_attr else None
            found = table.get_item(hash_key, range_key)
        except Exception:  # noqa: BLE001 - a malformed key: moto itself answers what is wrong with it
            return None
        if found is None:
            return None
        attributes: Item = found.to_json()["Attributes"]
        return attributes

    def indexes(self, table_name: str) -> list[tuple[str, str, str | None]]:
        """(name, partition key, sort key) of each global secondary index."""
        out = []
        for index in self.table(table_name).global_indexes:
            by_type = {k["KeyType"]: k["AttributeName"] for k in index.schema}
            out.append((index.name, by_type["HASH"], by_type.get("RANGE")))
        return out

    def partition_of(self, table_name: str, key: Mapping[str, Any]) -> Partition:
        return Partition(table_name, None, _canonical(key[self.table(table_name).hash_key_attr]))

    def index_partitions(self, table_name: str, *items: Item | None) -> list[Partition]:
        out: list[Partition] = []
        for name, partition_key, _sort in self.indexes(table_name):
            for item in items:
                if item and partition_key in item:
                    partition = Partition(table_name, name, _canonical(item[partition_key]))
                    if partition not in out:
                        out.append(partition)
        return out


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _consistency(body: Mapping[str, Any]) -> Consistency:
    return "strong" if body.get("ConsistentRead") else "eventual"


def accesses(operation: str, params: Mapping[str, Any], tables: _Tables) -> list[Access] | None:
    """What `operation` reads and writes, with the items as they are before it runs; None: not judged here."""
    if operation == "GetItem":
        return [_read(tables, params["TableName"], params["Key"], _consistency(params))]
    if operation == "BatchGetItem":
        return [
            _read(tables, table, key, _consistency(request))
            for table, request in params["RequestItems"].items()
            for key in request["Keys"]
        ]
    if operation == "TransactGetItems":
        return [_read(tables, a["Get"]["TableName"], a["Get"]["Key"], "transactional") for a in params["TransactItems"]]
    if operation in _WRITES:
        return [_write(tables, params["TableName"], params.get("Key"), params.get("Item"), False)]
    if operation == "BatchWriteItem":
        return [
            _write(
                tables, table, (r.get("DeleteRequest") or {}).get("Key"), (r.get("PutRequest") or {}).get("Item"), False
            )
            for table, requests in params["RequestItems"].items()
            for r in requests
        ]
    if operation == "TransactWriteItems":
        out = []
        for action in params["TransactItems"]:
            ((kind, body),) = action.items()
            if kind == "ConditionCheck":
                out.append(_read(tables, body["TableName"], body["Key"], "transactional"))
            else:
                out.append(_write(tables, body["TableName"], body.get("Key"), body.get("Item"), True))
        return out
    if operation == "Query":
        partition = _query_partition(tables, params)
        return None if partition is None else [Access("Read", partition, consistency=_consistency(params))]
    return None


def _read(tables: _Tables, table: str, key: Mapping[str, Any], consistency: Consistency) -> Access:
    return Access(
        "Read",
        tables.partition_of(table, key),
        dict(key),
        tables.item(table, key),
        consistency,
        transactional=consistency == "transactional",
    )


def _write(
    tables: _Tables, table: str, key: Mapping[str, Any] | None, item: Mapping[str, Any] | None, transactional: bool
) -> Access:
    key = dict(key) if key is not None else tables.key_of(tables.table(table), item or {})
    before = tables.item(table, key)
    return Access(
        "Write",
        tables.partition_of(table, key),
        key,
        before,
        transactional=transactional,
        index_partitions=tables.index_partitions(table, before, item),
    )


def _query_partition(tables: _Tables, params: Mapping[str, Any]) -> Partition | None:
    """The partition-key value a Query's key condition names (`#pk = :v`), on the table or the index it reads."""
    table_name, index = params["TableName"], params.get("IndexName")
    if index is None:
        partition_key = tables.table(table_name).hash_key_attr
    else:
        named = [pk for name, pk, _ in tables.indexes(table_name) if name == index]
        if not named:
            return None
        partition_key = named[0]
    names, values = params.get("ExpressionAttributeNames", {}), params.get("ExpressionAttributeValues", {})
    for name, value in _EQUALITY.findall(str(params.get("KeyConditionExpression", ""))):
        if names.get(name, name) == partition_key and value in values:
            return Partition(table_name, index, _canonical(values[value]))
    return None


# -- what it cost, after it ran ------------------------------------------------------------------------------


def charge(
    throttle: PartitionThrottle,
    operation: str,
    params: Mapping[str, Any],
    found: list[Access],
    tables: _Tables,
    status: int,
    body: str,
) -> None:
    """Charge each access its units by DynamoDB's rules (aws_model/capacity.py), from the whole items."""
    error = _error_type(body) if status >= 400 else None
    if status >= 400 and error not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
        return  # refused before it read or wrote anything (a validation error)
    failed = error is not None
    for access in found:
        if access.kind == "Read" and access.key is None:
            throttle.charge(access, _query_units(tables, params, body, access).read, {})
        elif access.kind == "Read":
            throttle.charge(access, capacity.get_item(access.before, access.consistency).read, {})
        else:
            after = None if failed or access.key is None else tables.item(access.partition.table, access.key)
            table_units = capacity.write(
                access.before, after, transactional=access.transactional, condition_failed=failed
            ).write
            throttle.charge(access, table_units, {} if failed else _index_units(tables, access, after))


def _index_units(tables: _Tables, access: Access, after: Item | None) -> dict[Partition, float]:
    out: dict[Partition, float] = {}
    for name, partition_key, sort_key in tables.indexes(access.partition.table):
        spent = capacity.index_writes(access.before, after, [(partition_key, sort_key)], access.transactional)
        holder = after if after and partition_key in after else access.before
        if spent and holder and partition_key in holder:
            partition = Partition(access.partition.table, name, _canonical(holder[partition_key]))
            out[partition] = out.get(partition, 0.0) + spent
    return out


def _query_units(tables: _Tables, params: Mapping[str, Any], body: str, access: Access) -> Units:
    """A Query page's units from its items whole (a projection does not reduce what DynamoDB counts): each
    returned item is looked up by its primary key; one whose projection left out the key counts as returned."""
    try:
        returned = json.loads(body).get("Items", [])
    except ValueError:
        return Units()
    table = tables.table(params["TableName"])
    whole: list[Item] = []
    for item in returned:
        try:
            key = tables.key_of(table, item)
        except KeyError:
            whole.append(item)
            continue
        whole.append(tables.item(params["TableName"], key) or item)
    return capacity.query_page(whole, access.consistency)


def _error_type(body: str) -> str | None:
    try:
        kind = json.loads(body).get("__type", "")
    except ValueError:
        return None
    return str(kind).rpartition("#")[2] or None


# -- the refusal, as DynamoDB answers it ---------------------------------------------------------------------


def throttled_response(
    operation: str, found: list[Access], refusals: list[list[Partition]], arn: Callable[[Partition], str]
) -> tuple[int, dict[str, str], str]:
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if operation.startswith("Transact"):
        reasons = [
            {"Code": "ThrottlingError", "Message": THROTTLED_MESSAGE} if r else {"Code": "None"} for r in refusals
        ]
        codes = ", ".join(reason["Code"] for reason in reasons)
        body = {
            "__type": _ERROR_PREFIX + "TransactionCanceledException",
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
            "CancellationReasons": reasons,
        }
        return 400, headers, json.dumps(body)
    seen: list[dict[str, str]] = []
    for access, refused in zip(found, refusals, strict=True):
        for partition in refused:
            reason = {"reason": partition.reason(access.kind), "resource": arn(partition)}
            if reason not in seen:
                seen.append(reason)
    # `throttlingReasons`, lower case: the member's name in ThrottlingException's model (botocore's service-2.json).
    body = {"__type": _ERROR_PREFIX + "ThrottlingException", "message": THROTTLED_MESSAGE, "throttlingReasons": seen}
    return 400, headers, json.dumps(body)


# -- the patch -----------------------------------------------------------------------------------------------

_throttle: PartitionThrottle | None = None


def throttle_partitions(limits: AwsLimits) -> PartitionThrottle:
    """Make the embedded moto's DynamoDB enforce `limits` (once per process; the last limits given apply)."""
    global _throttle
    from moto.dynamodb.responses import DynamoHandler

    first = _throttle is None
    _throttle = PartitionThrottle(limits)
    if not first:
        return _throttle
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        throttle = _throttle
        operation = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
        params = getattr(self, "params", None)
        if throttle is None or not isinstance(params, Mapping):
            return original(self)
        tables = _Tables(self.dynamodb_backend)
        try:
            found = accesses(operation, params, tables)
        except (KeyError, TypeError, ValueError):  # malformed: moto answers what is wrong with it
            found = None
        if not found:
            return original(self)
        refusals = [throttle.refused(access) for access in found]
        if any(refusals):
            throttle.throttled += 1
            region, account = self.region, self.current_account
            logger.debug("throttled %s on %s", operation, [p for r in refusals for p in r])
            return throttled_response(operation, found, refusals, lambda p: _arn(region, account, p))
        status, headers, body = original(self)
        text = body.decode() if isinstance(body, bytes) else str(body)
        charge(throttle, operation, params, found, tables, int(status), text)
        return status, headers, body

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    return _throttle


def stop_throttling() -> None:
    """Limitless again (the patch stays and passes every request through): for tests running moto in-process."""
    global _throttle
    _throttle = None


def _arn(region: str, account: str, partition: Partition) -> str:
    table = f"arn:aws:dynamodb:{region}:{account}:table/{partition.table}"
    return f"{table}/index/{partition.index}" if partition.index else table


def throttle_from_environment(environment: Mapping[str, str]) -> PartitionThrottle | None:
    """The patch, when the stack that started this process asked for AWS's limits (local/aws_limits.py)."""
    limits = AwsLimits.from_environment(environment)
    return throttle_partitions(limits) if limits is not None else None
