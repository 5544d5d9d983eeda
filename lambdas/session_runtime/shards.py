"""Large sessions in parallel: a fan-out to more connections than one invocation serves well is split into
shards (session_schema.keys.connection_shard_range); the caller serves shard 0 itself and hands every other
shard to the fan-out worker function (connection_handler/fanout_worker.py) as an asynchronous invoke.

Asynchronous Lambda invoke, not SQS: one call per shard and no poller in between (an SQS event source adds
its polling delay to every broadcast), and Lambda's async queue already retries (twice) and keeps what
failed in the worker's dead-letter queue (infra/fanout_worker.py). The caller does not wait for remote
shards: a broadcaster's `broadcastSent` answers once its own shard is served.

An invoke that fails (throttled past its retries, a timeout, access denied) is counted
(`FanoutDispatchFailed`) and logged, and the caller serves that shard itself: slower, never lost.

Order per listener: each connection is in exactly one shard, and each shard posts one fan-out's events in
order; two fan-outs of one session in different invocations can interleave on a listener. Clients order
stream events by `seq` anyway (docs/websocket-api.md): they hold a gap and drop duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from session_schema.keys import MAX_CONNECTION_SHARDS, ConnectionScope

from . import metric_names
from .observability import logger, metrics

MAX_EVENTS_PER_JOB = 2  # a send of more events is served by its caller, unsharded (Fanout.send_many)


class ShardJob(BaseModel):
    """One shard of a fan-out: what to post (the events, in order), to whom, and whether to close."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sessionId: str = Field(min_length=1, max_length=64)
    shard: int = Field(ge=0)
    shards: int = Field(ge=1, le=MAX_CONNECTION_SHARDS)
    # Within Lambda's 256 KB asynchronous payload: at most two events, each within WebSocket's 128 KB message.
    payloads: list[dict[str, JsonValue]] = Field(min_length=1, max_length=MAX_EVENTS_PER_JOB)
    listenersOnly: bool = False
    closeListeners: bool = False
    excludedConnectionId: str | None = None  # the caller, who got the event as its answer
    # Whose connections (keys.ConnectionScope): the whole session's, or one channel's, over its partitions.
    channel: str | None = None
    wholeSession: bool = True
    partitions: int = Field(1, ge=1)
    channels: list[str] = Field(default_factory=list, max_length=64)

    @property
    def scope(self) -> ConnectionScope:
        return ConnectionScope(self.sessionId, self.partitions, self.channel, self.wholeSession, tuple(self.channels))

    @staticmethod
    def scope_fields(scope: ConnectionScope) -> dict[str, Any]:
        """The job's fields that carry `scope`."""
        return {
            "channel": scope.channel,
            "wholeSession": scope.whole_session,
            "partitions": scope.partitions,
            "channels": list(scope.channels),
        }


def shard_count(connections: int, threshold: int) -> int:
    """How many shards a fan-out to `connections` is split into: one per `threshold` connections."""
    if connections <= threshold:
        return 1
    return min(-(-connections // threshold), MAX_CONNECTION_SHARDS)


class ShardDispatcher:
    """Hands shards to the worker function. The boto3 `lambda` client is made on first use (cold starts of
    invocations that never shard do not pay for it)."""

    def __init__(self, function_name: str, threshold: int, client: Callable[[], Any]) -> None:
        self.function_name = function_name
        self.threshold = threshold
        self._client_factory = client
        self._client: Any = None

    def dispatch(self, job: ShardJob) -> bool:
        """Invoke the worker for `job` asynchronously; False (counted and logged) when the invoke failed."""
        try:
            if self._client is None:
                self._client = self._client_factory()
            self._client.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=json.dumps(job.model_dump(), separators=(",", ":"), ensure_ascii=False).encode(),
            )
        except Exception:  # noqa: BLE001 - the caller serves the shard itself
            metrics.add_metric(name=metric_names.FANOUT_DISPATCH_FAILED, unit=MetricUnit.Count, value=1)
            logger.exception(
                "could not hand a fan-out shard to the worker; serving it here",
                extra={"sessionId": job.sessionId, "shard": job.shard, "shards": job.shards},
            )
            return False
        return True
