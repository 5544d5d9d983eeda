"""DynamoDB units and moto's CPU, observed on the handlers' own DynamoDB client (botocore events).

moto answers constant consumed capacity, so each request's units are computed by `aws_model.capacity`
from the whole items it touched: a second client, which nothing observes, reads each item before and after
a write and re-runs each Query or GetItem without its projection (DynamoDB counts whole items). The time
moto spends serving requests, and the time spent here, are CPU the handlers would not spend on AWS: both
are kept apart so that `handler_cpu` is the handlers' own.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aws_model import capacity
from aws_model.capacity import Consistency, Item, KeySchema, Units

_REFERENCE = re.compile(r"[#:][A-Za-z0-9_]+")
_WRITES = ("PutItem", "UpdateItem", "DeleteItem")


class CapacityMeter:
    """Adds up, while `metering()`, the units of every request `client` sends and its request count."""

    def __init__(self, client: Any, reader: Any, schema: KeySchema) -> None:
        self.reader = reader  # unobserved: what it reads costs nothing here
        self.schema = schema
        self.units = Units()
        self.requests = 0
        self.by_operation: dict[str, Units] = {}  # the same units by DynamoDB operation (Query: a fan-out's reads)
        self.requests_by_operation: Counter[str] = Counter()
        self.excluded_cpu = 0.0  # seconds: moto serving, and this meter's own reads
        self._on = False
        self._local = threading.local()
        self._lock = threading.Lock()
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._before, unique_id="cost-meter-before")
        events.register("after-call.dynamodb", self._after, unique_id="cost-meter-after")
        _observe_moto(self)

    @contextmanager
    def metering(self) -> Iterator[None]:
        self.units, self.requests, self.excluded_cpu = Units(), 0, 0.0
        self.by_operation, self.requests_by_operation = {}, Counter()
        self._on = True
        try:
            yield
        finally:
            self._on = False

    # -- botocore hooks --------------------------------------------------------------------------------

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self._on:
            return
        with self._own_time():
            self._local.params = dict(params)
            self._local.before = self._items_touched(model.name, params)

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self._on:
            return
        with self._own_time():
            params = self._local.params
            failed = "Error" in parsed
            units = self._units(model.name, params, parsed, self._local.before, failed)
            with self._lock:
                self.units += units
                self.requests += 1
                self.by_operation[model.name] = self.by_operation.get(model.name, Units()) + units
                self.requests_by_operation[model.name] += 1

    @contextmanager
    def _own_time(self) -> Iterator[None]:
        self._local.inside = True
        started = time.thread_time()
        try:
            yield
        finally:
            self._local.inside = False
            self.add_excluded(time.thread_time() - started)

    def add_excluded(self, seconds: float) -> None:
        with self._lock:
            self.excluded_cpu += seconds

    def inside(self) -> bool:
        return bool(getattr(self._local, "inside", False))

    # -- units per operation ---------------------------------------------------------------------------

    def _units(
        self, operation: str, params: dict[str, Any], parsed: dict[str, Any], before: list[Item | None], failed: bool
    ) -> Units:
        consistency: Consistency = "strong" if params.get("ConsistentRead") else "eventual"
        if operation == "GetItem":
            return capacity.get_item(self._whole_item(params), consistency)
        if operation in ("Query", "Scan"):
            return capacity.query_page(self._whole_page(operation, params), consistency)
        if operation in _WRITES:
            (old,) = before
            new = None if failed or operation == "DeleteItem" else self._get(params["TableName"], self._key(params))
            return capacity.write(old, new, self.schema, condition_failed=failed)
        if operation == "TransactWriteItems":
            return self._transaction(params, before, failed)
        if operation == "BatchGetItem":  # each item rounded on its own
            total = Units()
            for table, request in params["RequestItems"].items():
                read: Consistency = "strong" if request.get("ConsistentRead") else "eventual"
                for key in request["Keys"]:
                    total += capacity.get_item(self._get(table, key), read)
            return total
        if operation == "TransactGetItems":
            total = Units()
            for action in params["TransactItems"]:
                get = action["Get"]
                total += capacity.get_item(self._get(get["TableName"], get["Key"]), "transactional")
            return total
        if operation == "BatchWriteItem":
            total = Units()
            for table, requests in params["RequestItems"].items():
                for request, old in zip(requests, before, strict=False):
                    key = self.schema.key_of(request["PutRequest"]["Item"]) if "PutRequest" in request else None
                    new = self._get(table, key) if key else None
                    total += capacity.write(old, new, self.schema)
            return total
        return Units()  # DescribeTable and the like: no units

    def _transaction(self, params: dict[str, Any], before: list[Item | None], cancelled: bool) -> Units:
        total = Units()
        for action, old in zip(params["TransactItems"], before, strict=True):
            ((kind, body),) = action.items()
            if kind == "ConditionCheck":
                total += capacity.get_item(old, "transactional")
                continue
            if cancelled:
                total += capacity.write(old, None, transactional=True, condition_failed=True)
                continue
            new = None if kind == "Delete" else self._get(body["TableName"], self._key(body))
            total += capacity.write(old, new, self.schema, transactional=True)
        return total

    # -- the items a request touches, read whole through the unobserved client ---------------------------

    def _items_touched(self, operation: str, params: Mapping[str, Any]) -> list[Item | None]:
        if operation in _WRITES:
            return [self._get(params["TableName"], self._key(params))]
        if operation == "TransactWriteItems":
            return [
                self._get(body["TableName"], self._key(body)) for a in params["TransactItems"] for body in a.values()
            ]
        if operation == "BatchWriteItem":
            return [
                self._get(table, self._key(request.get("PutRequest") or request["DeleteRequest"]))
                for table, requests in params["RequestItems"].items()
                for request in requests
            ]
        return []

    def _key(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return body["Key"] if "Key" in body else self.schema.key_of(body["Item"])

    def _get(self, table: str, key: Mapping[str, Any]) -> Item | None:
        item: Item | None = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item

    def _whole_item(self, params: Mapping[str, Any]) -> Item | None:
        return self._get(params["TableName"], params["Key"])

    def _whole_page(self, operation: str, params: Mapping[str, Any]) -> list[Item]:
        """The same page, every attribute of each item: the projection and the filter dropped (DynamoDB
        counts what it read, before either), the names and values no remaining expression uses pruned."""
        request = {k: v for k, v in params.items() if k not in ("ProjectionExpression", "FilterExpression", "Select")}
        used = set(_REFERENCE.findall(str(request.get("KeyConditionExpression", ""))))
        for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {name: value for name, value in request.get(field, {}).items() if name in used}
            if kept:
                request[field] = kept
            else:
                request.pop(field, None)
        page: list[Item] = getattr(self.reader, operation.lower())(**request).get("Items", [])
        return page


_meters: list[CapacityMeter] = []


def _observe_moto(meter: CapacityMeter) -> None:
    """Count the CPU moto spends serving the observed client's requests (not the meter's own) as excluded."""
    from moto.core.botocore_stubber import BotocoreStubber

    _meters.append(meter)
    if getattr(BotocoreStubber.process_request, "_cost_meter", False):
        return
    serve = BotocoreStubber.process_request

    def timed(self: Any, request: Any) -> Any:
        started = time.thread_time()
        try:
            return serve(self, request)
        finally:
            spent = time.thread_time() - started
            for each in _meters:
                if each._on and not each.inside():
                    each.add_excluded(spent)

    timed._cost_meter = True  # type: ignore[attr-defined]
    BotocoreStubber.process_request = timed  # type: ignore[method-assign]
