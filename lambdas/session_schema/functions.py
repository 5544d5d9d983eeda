"""The stack's Lambda functions, declared once: the CDK stack (infra/functions.py) deploys each with these
values and the local stack (local/lambda_service/lambda_pools.py) runs each as a pool of worker processes
sized by them.

Plain data, importable without aws_cdk. A function added here is deployed by the CDK stack and gets its
own pool in the local stack (invocable by name there), with nothing else to wire.

`reserved_concurrency` is both a guarantee and a cap on AWS: the connection function, which every
WebSocket frame invokes, cannot take the capacity the HTTP function and the sweep need. The sum, plus
the 100 Lambda keeps unreserved, must fit the account's concurrency quota (1,000 by default).
Locally it is the most worker processes a function's pool starts (`serve --concurrency N` overrides it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AsyncInvoke:
    """How Lambda's queue treats a function's asynchronous invocations (AWS::Lambda::EventInvokeConfig):
    a function error is retried `retry_attempts` times (Lambda waits a minute, then two); a throttled
    or system-failed one is retried with backoff while younger than `max_event_age_seconds`; past
    either, its record goes to the on-failure destination. The local Invoke API does the same."""

    retry_attempts: int = 2  # Lambda's default; 0 to 2
    max_event_age_seconds: int = 6 * 3600  # Lambda's default; 60 to 6 hours


@dataclass(frozen=True)
class StreamSource:
    """How Lambda reads the table's change stream into a function (AWS::Lambda::EventSourceMapping), and how
    the local stack's poller does (local/dynamodb_streams/). A failed batch is split in two and retried
    (`bisect_on_error`) at most `retry_attempts` times and while its records are younger than
    `max_record_age_seconds`; past either, a record of the batch (pointers into the stream, not its
    records) goes to the on-failure destination. Records that match none of the function's filter
    patterns never invoke it."""

    batch_size: int = 100
    # Every broadcast moves the session item's seq (a MODIFY that announces nothing): waiting up to a second
    # gathers a speaking session's writes into one invocation instead of one each.
    batching_window_seconds: int = 1
    bisect_on_error: bool = True
    retry_attempts: int = 5
    # The stream keeps records 24 hours; a batch given up on after an hour leaves the redrive most of a day.
    max_record_age_seconds: int = 3600


@dataclass(frozen=True)
class QueueSource:
    """How Lambda reads an SQS queue into a function (AWS::Lambda::EventSourceMapping with ScalingConfig), and how
    the local stack's queue delivers it (local/sqs/queue.py). The function reports each failed record
    (ReportBatchItemFailures), which alone is received again after the visibility timeout; a record received
    `max_receive_count` times goes to the dead-letter queue."""

    batch_size: int = 10
    batching_window_seconds: int = 0
    # The most batches in flight at once (SQS's MaximumConcurrency, 2 at least). At or below the function's
    # reserved concurrency (a test checks), so the mapping alone never has its invocations throttled.
    maximum_concurrency: int = 10
    # A throttle (other invocations holding the function's concurrency) is retried by the mapping within the
    # visibility timeout, which AWS advises at six times the function's timeout for that; a record still comes back
    # after a function error or a timeout. Generous, so a record reaches the dead-letter queue only when the
    # function keeps failing on it.
    max_receive_count: int = 20
    visibility_timeout_factor: int = 6


@dataclass(frozen=True)
class FunctionDeclaration:
    name: str  # the CDK construct ID, and the function's name in the local stack's logs
    handler: str  # module.attribute under lambdas/
    description: str
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    async_invoke: AsyncInvoke = AsyncInvoke()
    stream_source: StreamSource | None = None  # invoked by the table's change stream
    queue_source: QueueSource | None = None  # invoked by an SQS queue's event source mapping


HTTP_FUNCTION = "HttpSessionFunction"
CONNECTION_FUNCTION = "ConnectionFunction"
SWEEP_FUNCTION = "SweepFunction"
FANOUT_WORKER_FUNCTION = "FanoutWorkerFunction"
LIFECYCLE_EVENTS_FUNCTION = "LifecycleEventsFunction"
UPLOAD_FUNCTION = "UploadFunction"

FUNCTIONS: tuple[FunctionDeclaration, ...] = (
    FunctionDeclaration(
        name=HTTP_FUNCTION,
        handler="http_session_handler.app.handler",
        description="HTTP API (payload 2.0): sessions, messages, artifacts, health, OpenAPI",
        # It fans out too: DELETE and PATCH tell every connection (and DELETE closes each listener), a
        # message and an artifact change reach all of them. Ending a full session (MAX_LISTENERS_LIMIT,
        # 10,000) is ~20,000 management API calls, each costing client CPU (docs/figures.md, fanout), which
        # 512 MB (a third of one vCPU) could not do within any timeout API Gateway allows. Same size and
        # budget as the connection function.
        memory_mb=1769,
        timeout_seconds=25,
        reserved_concurrency=20,
    ),
    FunctionDeclaration(
        name=CONNECTION_FUNCTION,
        handler="connection_handler.app.handler",
        description="WebSocket API: $connect, $disconnect, $default and every action route",
        # Lambda's CPU follows memory (1,769 MB = one vCPU) and a broadcast's fan-out is CPU-bound (its CPU
        # per post: docs/figures.md, fanout): at 512 MB (a third of a vCPU) a broadcast would take about
        # three times longer to reach its last listener for about the same GB-seconds.
        memory_mb=1769,
        # under API Gateway's 29 s integration timeout, with room for a fan-out to finish
        timeout_seconds=25,
        # Every frame of every connection is one invocation: the busiest function, so the one capped.
        reserved_concurrency=50,
        # The disconnect queue's consumer (infra/disconnect_queue.py): `$disconnect` is sent to SQS by API Gateway,
        # never invoked, so a leave storm past this function's concurrency waits in the queue instead of being
        # dropped. This function rather than one of its own: the leave is its code (connection_lifecycle.leave),
        # with the grants it already has, and a leave's notices and fan-out are the same work as its frames'.
        # A batch of ten leaves is ten short unregistrations; at most ten batches at once leave the frames
        # forty of the fifty execution environments.
        queue_source=QueueSource(batch_size=10, batching_window_seconds=1, maximum_concurrency=10),
    ),
    FunctionDeclaration(
        name=SWEEP_FUNCTION,
        handler="connection_handler.sweep.handler",
        description="Scheduled: ends sessions that have had no speaker for SPEAKERLESS_TIMEOUT_SECONDS",
        # Each session it ends is told and closed like a DELETE (above), one after another; no API waits
        # on it, so it gets the same CPU and minutes rather than seconds. A sweep that still runs out of
        # time leaves the sessions it had not reached to the next run (the index still lists them).
        memory_mb=1769,
        timeout_seconds=300,
        # A schedule every few minutes needs one; a second at once would only repeat the first's work.
        reserved_concurrency=1,
    ),
    FunctionDeclaration(
        name=FANOUT_WORKER_FUNCTION,
        handler="connection_handler.fanout_worker.handler",
        description="Asynchronous: one shard of a large session's fan-out (connection_handler/fanout_worker.py)",
        # Posts are the whole job, CPU-bound like the handlers' own fan-out: the same one vCPU.
        memory_mb=1769,
        # One shard is at most a few thousand posts (their CPU: docs/figures.md, fanout) plus its Query pages;
        # a minute leaves room for slow posts (each bounded by FANOUT_POST_TIMEOUT_MS) without holding a
        # stuck invocation for long.
        timeout_seconds=60,
        # Ten broadcasts to a full session split in a few shards each, at once; asynchronous invocations
        # past it wait in Lambda's queue (throttled ones retried while younger than their maximum age).
        reserved_concurrency=10,
        # A shard that raised (it could not read its connections, before any post) is tried twice more.
        # One still queued after ten minutes is stale news for live listeners (they recover by seq): its
        # record goes to the dead-letter queue rather than being posted late.
        async_invoke=AsyncInvoke(retry_attempts=2, max_event_age_seconds=600),
    ),
    FunctionDeclaration(
        name=LIFECYCLE_EVENTS_FUNCTION,
        handler="lifecycle_events.app.handler",
        description="Table stream: session and artifact changes as EventBridge events (lambdas/lifecycle_events)",
        # Decoding a batch of images and one PutEvents per ten events: light work, mostly waiting.
        memory_mb=512,
        timeout_seconds=60,
        # One invocation per stream shard at a time (Lambda's own rule for a stream at parallelization 1),
        # so this only caps a table with many shards.
        reserved_concurrency=5,
        stream_source=StreamSource(),
    ),
    FunctionDeclaration(
        name=UPLOAD_FUNCTION,
        handler="upload_handler.app.handler",
        description="S3 event notification: an artifact's object landed; record it and move the artifact on",
        # One ranged GET of the header bytes, a conditional write and a fan-out to the session: the fan-out is
        # the CPU, as in the handlers' own (same one vCPU, so a slide reaches a full session as fast).
        memory_mb=1769,
        timeout_seconds=60,
        # Uploads arrive at the rate owners upload; past it S3's asynchronous invocations wait in Lambda's queue.
        reserved_concurrency=10,
        # S3 delivers at least once and Lambda retries a failed invocation twice; each step is conditional, so a
        # repeat changes nothing. Past the retries the record goes to the dead-letter queue.
        async_invoke=AsyncInvoke(retry_attempts=2, max_event_age_seconds=6 * 3600),
    ),
)

FUNCTIONS_BY_NAME: dict[str, FunctionDeclaration] = {function.name: function for function in FUNCTIONS}
