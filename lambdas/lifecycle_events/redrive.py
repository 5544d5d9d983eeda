"""Redrive the stream batches the lifecycle events function gave up on, while the stream still holds them.

    python -m lifecycle_events.redrive --queue-url URL --function NAME [--dry-run]

The event source mapping's dead-letter queue holds, per failed batch, only pointers into the table's stream
(`DDBStreamBatchInfo`: stream, shard, first and last sequence numbers), and the stream keeps records 24 hours
(the LifecycleEventsRedriveDeadline alarm fires at 12). For each queued batch this reads the records back,
invokes the function with them exactly as the mapping would (synchronously), and deletes the queue message
only when the function announced the whole batch; anything else is reported and left for the next run. An
event put twice meanwhile is de-duplicated by receivers (`detail.id`). Run with the operator's credentials
(sqs:ReceiveMessage/DeleteMessage on the queue, the stream reads, lambda:InvokeFunction on the function).
Exit status: 0 all redriven, 1 some left (listed).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from .stream_batches import records_between

Invoke = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass
class RedriveReport:
    redriven: list[str] = field(default_factory=list)  # the batches' first sequence numbers
    left: list[str] = field(default_factory=list)  # why each batch still queued is there


def redrive_batch(streams: Any, failure: Mapping[str, Any], invoke: Invoke) -> str | None:
    """Read one failed batch back and hand it to the function: None when it announced the whole batch, else why not."""
    batch = failure.get("DDBStreamBatchInfo")
    if not isinstance(batch, dict):
        return "not a stream batch's failure record (no DDBStreamBatchInfo)"
    first, last = batch["startSequenceNumber"], batch["endSequenceNumber"]
    try:
        records = list(records_between(streams, batch["streamArn"], batch["shardId"], first, last))
    except streams.exceptions.TrimmedDataAccessException:
        return f"{first}..{last}: the stream no longer holds these records (kept 24 hours)"
    if not records:
        return f"{first}..{last}: no record found in the stream"
    answer = invoke({"Records": records})
    failures = answer.get("batchItemFailures") if isinstance(answer, Mapping) else None
    if failures:
        return f"{first}..{last}: the function failed again from {failures[0].get('itemIdentifier')}"
    if failures is None:
        return f"{first}..{last}: the function failed: {answer!r}"
    return None


def redrive(sqs: Any, streams: Any, queue_url: str, invoke: Invoke, *, dry_run: bool = False) -> RedriveReport:
    report = RedriveReport()
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
            "Messages", []
        )
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            return report
        for message in fresh:
            seen.add(message["MessageId"])
            failure = json.loads(message["Body"])
            first = str(failure.get("DDBStreamBatchInfo", {}).get("startSequenceNumber"))
            why = "dry run" if dry_run else redrive_batch(streams, failure, invoke)
            if why is None:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                report.redriven.append(first)
            else:
                report.left.append(why)


def lambda_invoker(function: str, client: Any | None = None) -> Invoke:
    """Invoke `function` synchronously with an event; its answer, or `{"FunctionError": ...}`."""
    lambda_client = client or boto3.client("lambda")

    def invoke(event: Mapping[str, Any]) -> Mapping[str, Any]:
        answer = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            return {"FunctionError": answer["FunctionError"], "payload": payload}
        return payload if isinstance(payload, dict) else {"payload": payload}

    return invoke


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifecycle_events.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queue-url", required=True, help="the stack's LifecycleEventFailuresQueueUrl output")
    parser.add_argument("--function", required=True, help="the lifecycle events function's name or ARN")
    parser.add_argument("--dry-run", action="store_true", help="list the queued batches, redrive nothing")
    args = parser.parse_args(argv)
    report = redrive(
        boto3.client("sqs"), boto3.client("dynamodbstreams"), args.queue_url, lambda_invoker(args.function),
        dry_run=args.dry_run,
    )  # fmt: skip
    print(json.dumps({"redriven": report.redriven, "left": report.left}, indent=2))
    return 1 if report.left else 0


if __name__ == "__main__":
    sys.exit(main())
