"""The handler the table's stream invokes (deployed as LifecycleEventsFunction, session_schema/functions.py;
its event source mapping, dead-letter queue and alarms: infra/lifecycle_events.py).

Records are handled in stream order. The answer names the first record not wholly announced
(`batchItemFailures`, with ReportBatchItemFailures on the mapping): Lambda retries from there, so what came
before is not put again and a session's events keep their order. A record the schema cannot read stops the
batch at itself; after the mapping's retries (splitting the batch to isolate it) its pointers go to the
dead-letter queue, for `lifecycle_events.redrive` once the cause is fixed.

A keynote session's seat shard crossing zero (`crossing_of`) settles that session's occupancy item first
(session_store/occupancy_ledger.py); a settle that fails stops the batch at its record like an unreadable one,
and its retry finds the item already moved if the write got through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import boto3

from session_runtime.observability import logger
from session_runtime.timeouts import AWS_CLIENT_CONFIG
from session_schema.errors import CorruptRecord
from session_schema.settings import load_settings
from session_store.occupancy_ledger import OccupancyLedger

from .mapping import LifecycleEvent, StreamRecord, crossing_of, events_of
from .publisher import Publisher

__all__ = ["handler", "ledger", "process", "publisher"]


@lru_cache(maxsize=1)
def publisher() -> Publisher:
    """One per execution environment (cold start). Tests call `publisher.cache_clear()`."""
    return Publisher(boto3.client("events", config=AWS_CLIENT_CONFIG), load_settings().event_bus_name)


@lru_cache(maxsize=1)
def ledger() -> OccupancyLedger:
    """The keynote sessions' occupancy items (one client per execution environment). Tests call `cache_clear()`."""
    return OccupancyLedger(load_settings().table_name, boto3.client("dynamodb", config=AWS_CLIENT_CONFIG))


def _failure(record: StreamRecord) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}


def process(
    records: Sequence[StreamRecord], bus: Publisher, occupancy: OccupancyLedger | None = None
) -> dict[str, Any]:
    events: list[LifecycleEvent] = []
    owners: list[int] = []  # the record each event comes from
    unreadable: int | None = None
    for index, record in enumerate(records):
        try:
            announced = events_of(record)
            crossed = crossing_of(record)
        except CorruptRecord:
            logger.exception("a stream record the schema cannot read", extra={"eventID": record.get("eventID")})
            unreadable = index
            break
        if crossed is not None:
            try:
                (occupancy or ledger()).settle(crossed)
            except Exception:  # noqa: BLE001 - any failure (throttled, occupancy lost): retried from this record
                logger.exception("a keynote session's occupancy not settled", extra={"sessionId": crossed})
                unreadable = index
                break
        events += announced
        owners += [index] * len(announced)
    failed = bus.put(events)
    if failed is not None:
        return _failure(records[owners[failed]])
    logger.info("lifecycle events put", extra={"records": len(records), "events": len(events)})
    return _failure(records[unreadable]) if unreadable is not None else {"batchItemFailures": []}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    return process(event.get("Records", []), publisher())
