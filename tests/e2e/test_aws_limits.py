"""AWS's limits, enforced by the local stack (`LocalStack(aws_limits=...)`, `serve --aws-limits`), at a small scale
(0.01: 5 new WebSocket connections a second, 10 write and 30 read units a second per partition-key value): what
DynamoDB answers a hot partition reaches the handlers in DynamoDB's shape and is classified as a throttle; a join
storm past both quotas is admitted in full, its DynamoDB throttles retried in the handlers (a client sees only
API Gateway's own connection-rate 429, retried: delay, never an error), the count exact after the joins and
after the leaves; broadcasts while the session's partition is read hot reach every listener, every event in
order (the fan-out's throttled reads retried, or handed to the fan-out worker: session_store/throttle_retry.py).

One stack for the module (its buckets refill within a second, so tests do not disturb one another)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from live_sessions_client import BackoffOptions, LiveSession, RefusedError

from local import dynamodb
from local.aws_limits import AwsLimits
from local.stack import LocalStack
from tests.support.listeners import RecordingListener
from tests.support.local_stack import create_session, listener_count, running_local_stack, settled_listener_count

pytestmark = pytest.mark.e2e

SCALE = 0.01
LIMITS = AwsLimits(SCALE)
STORM = 16  # listeners joining at once: past the 5 connections a second and the session partition's 10 WCU


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_local_stack(aws_limits=LIMITS) as local:
        yield local


def _client(stack: LocalStack, config: Config) -> Any:
    import boto3

    assert stack.urls is not None
    session = boto3.session.Session(region_name=dynamodb.REGION, **dynamodb.FAKE_CREDENTIALS)
    return session.client("dynamodb", endpoint_url=stack.urls.dynamodb, config=config)


def _until_throttled(call: Any, attempts: int = 200) -> ClientError:
    for _ in range(attempts):
        try:
            call()
        except ClientError as error:
            return error
    raise AssertionError(f"not throttled in {attempts} calls")


# -- what the handlers see -------------------------------------------------------------------------------


def test_a_hot_partition_is_throttled_in_dynamodbs_shape_and_the_store_reads_it_as_a_throttle(stack):
    from session_schema.errors import RateLimited
    from session_store.aws_errors import aws_refusal
    from session_store.dynamo import Table

    ddb = _client(stack, Config(retries={"total_max_attempts": 1}))
    partition = {"S": "SESSION#hot-write-1"}

    def put(partition: dict[str, str] = partition) -> None:
        # 20 KB: 20 write units, two seconds of this partition's at this scale, so it stays hot a while
        ddb.put_item(TableName=stack.table_name, Item={"PK": partition, "SK": {"S": "X"}, "pad": {"S": "x" * 20_000}})

    error = _until_throttled(put)
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert "Throughput exceeds the current capacity of your table or index" in error.response["Error"]["Message"]
    assert error.response["throttlingReasons"] == [
        {
            "reason": "TableWriteKeyRangeThroughputExceeded",
            "resource": f"arn:aws:dynamodb:{dynamodb.REGION}:123456789012:table/{stack.table_name}",
        }
    ]
    assert isinstance(aws_refusal(error), RateLimited)  # past botocore's retry: 429 RATE_LIMITED to the caller

    def query() -> None:
        ddb.query(
            TableName=stack.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": partition},
            ConsistentRead=True,
        )

    reads = _until_throttled(query)
    assert [r["reason"] for r in reads.response["throttlingReasons"]] == ["TableReadKeyRangeThroughputExceeded"]

    # A transaction touching the hot partition is cancelled, ThrottlingError at that action, and nothing applied.
    partition = {"S": "SESSION#hot-write-2"}
    _until_throttled(lambda: put(partition))
    cold = {"PK": {"S": "SESSION#cold-1"}, "SK": {"S": "X"}}
    items = [
        {"Put": {"TableName": stack.table_name, "Item": cold}},
        {"Put": {"TableName": stack.table_name, "Item": {"PK": partition, "SK": {"S": "Y"}}}},
    ]
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(TransactItems=items)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in cancelled.value.response["CancellationReasons"]] == ["None", "ThrottlingError"]
    assert "Item" not in ddb.get_item(TableName=stack.table_name, Key=cold, ConsistentRead=True)
    with pytest.raises(RateLimited):  # the store's transactions answer it RATE_LIMITED (botocore does not retry it)
        Table(stack.table_name, ddb)._transact(items)


# -- a join storm ------------------------------------------------------------------------------------------


def _listener(stack: LocalStack, session_id: str) -> RecordingListener:
    assert stack.urls is not None
    return RecordingListener(stack.urls.ws, session_id, backoff=BackoffOptions(0.2, 2.0))


# A keynote's seats are on seat shards (above 1,000 listeners: session_schema/layout.py), its joins never write the
# session item; a small session's are on the session item.
@pytest.mark.parametrize("max_listeners", [STORM + 5, 2000], ids=["seats on the session item", "seat shards"])
def test_a_join_storm_past_the_quotas_is_admitted_in_full_the_counts_exact_after_joins_and_leaves(stack, max_listeners):
    """No client sees a DynamoDB throttle (RATE_LIMITED): the handlers retry them; the only refusals are API
    Gateway's connection-rate 429 (no body code), which clients retry as they would against AWS. The leaves of
    the storm are as hot: each `$disconnect` is retried in its handler, so the count is 0 without the sweep."""
    # An owner per case: a storm into a session whose seats are on its item also writes that item's copy in its
    # owner's index partition (GSI1), which stays over its scaled units for a while after; the next case's
    # `POST /sessions` by the same owner would be answered 429, as it would on AWS.
    owner = stack.mint(f"storm-owner-{max_listeners}")
    session_id = create_session(stack, owner, maxListeners=max_listeners)
    assert stack.urls is not None

    async def storm() -> list[RecordingListener]:
        listeners = [_listener(stack, session_id) for _ in range(STORM)]
        await asyncio.wait_for(asyncio.gather(*(listener.connect() for listener in listeners)), 120)
        return listeners

    async def run() -> tuple[list[RecordingListener], int, int]:
        listeners = await storm()
        count = await asyncio.to_thread(listener_count, stack, session_id, owner)
        await asyncio.gather(*(listener.close() for listener in listeners))  # the leaves, at once too
        left = await asyncio.to_thread(settled_listener_count, stack, session_id, owner, 0)
        return listeners, count, left

    throttled_before = stack._ws.connects_throttled if stack._ws else 0  # noqa: SLF001 - the gateway's own count
    listeners, count, left = asyncio.run(run())
    errors = [error for listener in listeners for error in listener.errors()]
    assert all(isinstance(e, RefusedError) and e.status == 429 and e.retryable for e in errors), errors
    assert [e for e in errors if isinstance(e, RefusedError) and e.code == "RATE_LIMITED"] == []  # none from DynamoDB
    assert errors, "the storm never met a quota: nothing was shown"
    assert stack._ws is not None and stack._ws.connects_throttled > throttled_before  # noqa: SLF001
    assert count == STORM  # every join counted once, none lost to a throttled transaction
    assert left == 0  # every leave counted, none left to the sweep


# -- a broadcast while the session's partition is read hot --------------------------------------------------


def _read_hot(stack: LocalStack, session_id: str, stop: threading.Event, throttled: list[ClientError]) -> None:
    """Keep the session's partition over its read units: another reader of the whole partition, which holds a
    40 KB item (10 read units a Query, strongly consistent: a third of the partition's second) every 0.1 s."""
    ddb = _client(stack, Config(retries={"total_max_attempts": 1}))
    while not stop.wait(0.1):
        try:
            ddb.query(
                TableName=stack.table_name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": f"SESSION#{session_id}"}},
                ConsistentRead=True,
            )
        except ClientError as error:
            throttled.append(error)


def test_broadcasts_while_reads_are_throttled_reach_every_listener_every_event_in_order(stack):
    """A fan-out whose connection reads are throttled retries them within its invocation, and hands the fan-out to
    the fan-out worker if they stay throttled (Lambda retries the worker): so every listener gets every event of
    the throttled stretch, in order, with no later event needed to show it a gap."""
    owner = stack.mint("hot-read-owner")
    session_id = create_session(stack, owner, maxListeners=10)
    assert stack.urls is not None
    events = 4

    throttled: list[ClientError] = []
    retried: list[BaseException] = []

    pad = {"PK": {"S": f"SESSION#{session_id}"}, "SK": {"S": "PAD#reads"}, "pad": {"S": "x" * 40_000}}
    _client(stack, Config(retries={"total_max_attempts": 10})).put_item(TableName=stack.table_name, Item=pad)

    async def run() -> tuple[list[RecordingListener], list[int]]:
        listeners = [_listener(stack, session_id) for _ in range(4)]
        for listener in listeners:
            await listener.connect()
        readers = [asyncio.create_task(listener.collect()) for listener in listeners]
        stop = threading.Event()
        hot = threading.Thread(target=_read_hot, args=(stack, session_id, stop, throttled), daemon=True)
        hot.start()
        seqs: list[int] = []
        async with LiveSession(stack.urls.ws, session_id, token=owner, keepalive=None) as speaker:
            for n in range(events):
                seqs.append(await _broadcast_retrying(speaker, n, retried))
            deadline = time.monotonic() + 30
            while any(len(listener.events) < len(seqs) for listener in listeners) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stop.set()
            hot.join()
        for listener in listeners:
            await listener.close()
        for task in readers:
            task.cancel()
        return listeners, seqs

    listeners, seqs = asyncio.run(run())
    assert throttled, "the partition's reads were never throttled"  # the speaker may or may not have met one: `retried`
    for listener in listeners:
        assert [e["seq"] for e in listener.events] == seqs  # every event once, in order, while still hot


async def _broadcast_retrying(speaker: LiveSession, data: Any, retried: list[BaseException]) -> int:
    """What an app does with a RATE_LIMITED broadcast: try again after a moment."""
    from live_sessions_client import LiveSessionError

    for _ in range(30):
        try:
            return int((await speaker.broadcast(data))["seq"])
        except LiveSessionError as error:
            if not error.retryable:
                raise
            retried.append(error)
            await asyncio.sleep(0.3)
    raise AssertionError("the broadcast never got through")


# -- Lambda's Region concurrency -----------------------------------------------------------------------------


def test_past_the_regions_concurrency_lambda_throttles_at_once_each_invocation_type_as_lambda_does():
    """A Region of one concurrent execution (`concurrency_scale`): while one invocation runs, a synchronous invoke
    through Lambda's Invoke API is refused 429 TooManyRequestsException with its Reason at once (no local wait),
    an HTTP API request gets API Gateway's 500, and an asynchronous one is queued and runs once there is room."""
    import json

    import boto3
    import requests

    from session_schema.functions import HTTP_FUNCTION

    from local.lambda_service.lambda_pools import HandlerSpec

    one = AwsLimits(SCALE, concurrency_scale=1 / 1000)
    handlers = HandlerSpec(http="tests.support.lambda_faults.http", sweep=None)
    with running_local_stack(aws_limits=one, handlers=handlers) as local:
        assert local.urls is not None
        lambda_api = boto3.client(
            "lambda",
            endpoint_url=f"{local.urls.http}/_lambda",
            region_name=dynamodb.REGION,
            config=Config(retries={"total_max_attempts": 1}),
            **dynamodb.FAKE_CREDENTIALS,
        )
        slow = threading.Thread(
            target=requests.get,
            args=(local.urls.http + "/health",),
            kwargs={"headers": {"x-test-sleep": "3"}, "timeout": 30},
        )
        slow.start()
        assert local.functions is not None
        deadline = time.monotonic() + 10
        while not local.functions.pool(HTTP_FUNCTION).busy_pids():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        started = time.monotonic()
        with pytest.raises(ClientError) as throttled:
            lambda_api.invoke(FunctionName=HTTP_FUNCTION, Payload=b"{}")
        assert time.monotonic() - started < 2  # at once: Lambda does not queue a synchronous invoke
        assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert throttled.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"
        answer = requests.get(local.urls.http + "/health", timeout=30)
        assert (answer.status_code, answer.json()) == (500, {"message": "Internal Server Error"})
        queued = lambda_api.invoke(
            FunctionName=HTTP_FUNCTION, InvocationType="Event", Payload=json.dumps({"headers": {}}).encode()
        )
        assert queued["StatusCode"] == 202
        slow.join()
        assert local.lambda_api is not None
        deadline = time.monotonic() + 20
        while local.lambda_api.counts.get("Throttled", 0) == 0 or _busy(local):
            assert time.monotonic() < deadline, local.lambda_api.counts
            time.sleep(0.05)
        assert local.lambda_api.failures == []  # retried, not dropped


def _busy(local: LocalStack) -> bool:
    from session_schema.functions import HTTP_FUNCTION

    assert local.functions is not None
    return bool(local.functions.pool(HTTP_FUNCTION).busy_pids())


# -- a leave storm past the connection function's concurrency --------------------------------------------------

LEAVE_STORM = 24  # listeners leaving at once into a connection function of two execution environments


def test_a_leave_storm_past_the_connection_functions_concurrency_loses_no_leave():
    """Every `$disconnect` of a storm counts, none left to the sweep, though the connection function (two execution
    environments here) throttles: API Gateway hands `$disconnect` to the disconnect queue, whose mapping retries a
    throttled delivery (local/sqs/queue.py), instead of invoking the function itself and losing a throttled one."""
    with running_local_stack(aws_limits=AwsLimits(0.05), concurrency=2) as local:
        owner = local.mint("leave-storm-owner")
        session_id = create_session(local, owner, maxListeners=LEAVE_STORM + 5)

        async def run() -> tuple[int, int]:
            listeners = [_listener(local, session_id) for _ in range(LEAVE_STORM)]
            await asyncio.wait_for(asyncio.gather(*(listener.connect() for listener in listeners)), 120)
            joined = await asyncio.to_thread(listener_count, local, session_id, owner)
            await asyncio.gather(*(listener.close() for listener in listeners))  # the leaves, at once
            left = await asyncio.to_thread(settled_listener_count, local, session_id, owner, 0)
            return joined, left

        joined, left = asyncio.run(run())
        queue = local.disconnect_queue
        assert queue is not None
        throttled, failures = queue.throttled, queue.failures
    assert joined == LEAVE_STORM
    assert left == 0  # every leave counted, none left to the sweep
    assert throttled > 0, "the function never throttled a delivery: the storm showed nothing"
    assert failures == []
