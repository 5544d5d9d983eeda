"""Lambda's event source mapping for the local stack: the table's stream (the embedded moto serves DynamoDB
Streams) polled, filtered with the function's filter patterns, and handed in batches to the function's own
execution environments, with the mapping's semantics (session_schema.functions.StreamSource):

- a batch is at most `batch_size` records, gathered for up to `batching_window_seconds` after its first;
- an answer naming a record in `batchItemFailures` retries from that record; a function error, a crash or a
  timeout retries the whole batch; with `bisect_on_error` a failed batch is split in two and each half
  retried in turn (the first half first: a session's order holds);
- past `retry_attempts` the records still failing are given up on: a record like the one Lambda sends to the
  on-failure destination (pointers into the stream) is kept in `failures` and logged, and polling goes on;
- one batch at a time per shard, in stream order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lifecycle_events.stream_batches import PAGE_LIMIT, lambda_record
from session_schema.functions import StreamSource

from .filters import matches_any

logger = logging.getLogger("local.streams")

Invoke = Callable[[Mapping[str, Any]], Any]
_IDLE_POLL_SECONDS = 0.1  # how often an idle shard is asked again (Lambda polls a stream about 4 times a second)
_RETRY_WAIT_SECONDS = 0.2  # between attempts of a failed batch (Lambda backs off too; locally, briefly)


def stream_arn_of(client: Any, table_name: str) -> str:
    """The table's latest stream, enabled with `view_type` if the table has none."""
    table = client.describe_table(TableName=table_name)["Table"]
    arn = table.get("LatestStreamArn")
    if not arn or not table.get("StreamSpecification", {}).get("StreamEnabled"):
        raise RuntimeError(f"table {table_name} has no stream")
    return str(arn)


class BatchDelivery:
    """One shard's batches to one function, with the mapping's retry, bisect and failure rules."""

    def __init__(self, invoke: Invoke, source: StreamSource, stream_arn: str, shard_id: str) -> None:
        self.invoke, self.source, self.stream_arn, self.shard_id = invoke, source, stream_arn, shard_id
        self.failures: list[dict[str, Any]] = []  # the on-failure destination's stand-in, oldest first
        self.invocations = 0

    def deliver(self, records: Sequence[Mapping[str, Any]], retries_left: int | None = None) -> None:
        retries = self.source.retry_attempts if retries_left is None else retries_left
        attempts = 0
        while records:
            attempts += 1
            failed_from, error = self._attempt(records)
            if failed_from is None:
                return
            records = records[failed_from:]
            if retries == 0:
                self._give_up(records, attempts, error)
                return
            retries -= 1
            time.sleep(_RETRY_WAIT_SECONDS)
            if self.source.bisect_on_error and len(records) > 1:
                middle = len(records) // 2
                self.deliver(records[:middle], retries)
                self.deliver(records[middle:], retries)
                return

    def _attempt(self, records: Sequence[Mapping[str, Any]]) -> tuple[int | None, str]:
        """(index of the first record to retry, or None when the batch is done; why it failed)."""
        self.invocations += 1
        try:
            answer = self.invoke({"Records": list(records)})
        except Exception as error:  # noqa: BLE001 - a function error, a crash, a timeout or a throttle: retried
            logger.error("stream batch of %d records failed: %r", len(records), error)
            return 0, repr(error)
        failures = answer.get("batchItemFailures") if isinstance(answer, Mapping) else None
        if not failures:
            return None, ""
        sequence = str(failures[0].get("itemIdentifier"))
        positions = [i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == sequence]
        # An identifier that names no record of the batch fails the whole batch, as Lambda treats it.
        logger.error("stream batch: the function reported a failure from record %s", sequence)
        return (positions[0] if positions else 0), f"batchItemFailures from {sequence}"

    def _give_up(self, records: Sequence[Mapping[str, Any]], attempts: int, error: str) -> None:
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
            "responseContext": {"functionError": error},
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.failures.append(record)
        logger.error("stream batch given up on (%d records, %s): %s", len(records), error, record["DDBStreamBatchInfo"])


class StreamPoller:
    """Polls every shard of a table's stream in a thread of its own and delivers what passes the filters."""

    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        invoke: Invoke,
        source: StreamSource,
        filter_patterns: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.streams, self.stream_arn, self.invoke, self.source = streams, stream_arn, invoke, source
        self.filter_patterns = list(filter_patterns)
        self.deliveries: dict[str, BatchDelivery] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [failure for delivery in self.deliveries.values() for failure in delivery.failures]

    def start(self) -> None:
        # TRIM_HORIZON, as the deployed mapping starts: every change since the stream began is announced.
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        iterators = {}
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            self.deliveries[shard_id] = BatchDelivery(self.invoke, self.source, self.stream_arn, shard_id)
        self._thread = threading.Thread(target=self._run, args=(iterators,), name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=35)
            self._thread = None

    def _run(self, iterators: dict[str, str]) -> None:
        pending: dict[str, list[dict[str, Any]]] = {shard: [] for shard in iterators}
        first_at: dict[str, float] = {}
        while not self._stop.is_set():
            for shard, iterator in list(iterators.items()):
                try:
                    page = self.streams.get_records(ShardIterator=iterator, Limit=PAGE_LIMIT)
                except Exception as error:  # noqa: BLE001 - the embedded DynamoDB going away at stop, or a blip
                    if not self._stop.is_set():
                        logger.error("reading the table's stream failed: %r", error)
                    continue
                iterators[shard] = page.get("NextShardIterator") or iterator
                fresh = [lambda_record(r, self.stream_arn) for r in page.get("Records", [])]
                batch = pending[shard]
                batch += [r for r in fresh if matches_any(self.filter_patterns, r)]
                if batch and shard not in first_at:
                    first_at[shard] = time.monotonic()
                window_over = batch and time.monotonic() - first_at[shard] >= self.source.batching_window_seconds
                while batch and (len(batch) >= self.source.batch_size or window_over):
                    taken, pending[shard] = batch[: self.source.batch_size], batch[self.source.batch_size :]
                    batch = pending[shard]
                    self.deliveries[shard].deliver(taken)
                if not batch:
                    first_at.pop(shard, None)
            self._stop.wait(_IDLE_POLL_SECONDS)
