"""The fan-out worker: one shard of one session's fan-out, in its own invocation.

API Gateway has no broadcast call, so one invocation posting to every connection is bound by its CPU
(its CPU per post on the lean path: docs/figures.md, fanout). A fan-out larger than one invocation
serves well is split into `shards` jobs; each worker reads only its shard's connections (a range of the
connection SK: session_schema.keys.connection_shard_range, no Scan, no coordinator) and posts to them
through the same `Fanout` as the handlers, so the same bounds, gone/slow-consumer rules and leave
notices apply. A job that cannot read its shard raises: the invocation is retried by Lambda's
asynchronous retries and, past them, lands in the on-failure destination; `FanoutShardFailed` counts it
and the log says so. A shard is read whole before its first post (`read_whole`, session_runtime/fanout.py), so that
raise comes before anything was sent and the retry, which repeats the whole shard, delivers nothing
twice. Posts that failed are counted (`FanoutFailed`, in Fanout) and answered in the result, never
raised: a raise after some posts would have the retry repeat them. What can still repeat a delivery is
an invocation that dies or times out mid-shard (Lambda retries it too) and Lambda's own at-least-once
queue; clients drop a `seq` they already have (docs/websocket-api.md).

Deployed as FanoutWorkerFunction (session_schema/functions.py; retries and dead-letter queue:
infra/fanout_worker.py); the local stack runs it in its own pool. The shard reads are measured by
bench/fanout.py --sharded (docs/figures.md).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_runtime import conflation, metric_names, presence
from session_runtime.fanout import is_listener
from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime, get_runtime
from session_runtime.shards import ShardJob
from session_runtime.timeouts import retrying_throttles

__all__ = ["ShardJob", "handler", "run"]


def run(runtime: Runtime, job: ShardJob) -> dict[str, Any]:
    if job.shard >= job.shards:
        raise ValueError(f"shard {job.shard} of {job.shards}")
    fanout = runtime.fanout if job.excludedConnectionId is None else runtime.fanout.excluding(job.excludedConnectionId)
    result = fanout.send_many(
        job.sessionId,
        job.payloads,
        only=is_listener if job.listenersOnly else None,
        close=is_listener if job.closeListeners else None,
        shard=(job.shard, job.shards),
        read_whole=True,  # a raise after some posts would have Lambda's retry of the whole shard repeat them
        scope=job.scope,
    )
    presence.after_fanout(runtime.fanout, job.sessionId, result)
    return {"sent": result.sent, "gone": len(result.gone), "failed": len(result.failed)}


def trailing_notices(runtime: Runtime, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The notice queue's messages (SQS): each slot's trailing notice (session_runtime/conflation.py). A failure
    raises, so SQS delivers the batch again after its visibility timeout (a repeat finds nothing pending)."""
    notices = conflation.trailing_notices(records)
    for notice in notices:
        runtime.notices.trailing(notice)
    return {"notices": len(notices)}


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:
        return trailing_notices(get_runtime(), event["Records"])
    job = ShardJob.model_validate(event)
    logger.append_keys(sessionId=job.sessionId, shard=job.shard, shards=job.shards)
    try:
        with retrying_throttles(context):
            return run(get_runtime(), job)
    except Exception:
        metrics.add_metric(name=metric_names.FANOUT_SHARD_FAILED, unit=MetricUnit.Count, value=1)
        logger.exception("a fan-out shard failed; Lambda retries it")
        raise
