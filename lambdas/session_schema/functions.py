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
class FunctionDeclaration:
    name: str  # the CDK construct ID, and the function's name in the local stack's logs
    handler: str  # module.attribute under lambdas/
    description: str
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int
    async_invoke: AsyncInvoke = AsyncInvoke()


HTTP_FUNCTION = "HttpSessionFunction"
CONNECTION_FUNCTION = "ConnectionFunction"
SWEEP_FUNCTION = "SweepFunction"
FANOUT_WORKER_FUNCTION = "FanoutWorkerFunction"

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
)

FUNCTIONS_BY_NAME: dict[str, FunctionDeclaration] = {function.name: function for function in FUNCTIONS}
