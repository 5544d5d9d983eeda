"""The scheduled sweep: end every joinable session that has had no speaker for the configured time.

Each end is conditional on the session still being speakerless since before the cutoff (one write that
loses cleanly to a speaker who reconnects meanwhile); an ended session's connections are told
`sessionEnded` and its listeners closed, exactly like an `end` from the speaker.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_runtime import notify
from session_runtime.observability import logger, metrics, tracer
from session_runtime.runtime import Runtime, get_runtime
from session_schema.errors import InvalidTransition, SessionNotFound
from session_schema.status import SessionStatus


def sweep(rt: Runtime) -> dict[str, Any]:
    now = rt.store.clock()
    cutoff = now - rt.settings.speakerless_timeout_seconds * 1000
    summary: dict[str, Any] = {"cutoff": cutoff, "checked": 0, "ended": [], "skipped": 0, "failed": 0}
    for candidate in rt.store.iter_speakerless(cutoff):
        summary["checked"] += 1
        try:
            _, after = rt.store.change_status(
                candidate.sessionId,
                SessionStatus.ENDED,
                ended_ttl_days=rt.settings.ended_session_ttl_days,
                only_if_speakerless_before=cutoff,
            )
        except (InvalidTransition, SessionNotFound):
            summary["skipped"] += 1  # ended or deleted by someone else since the index said otherwise
            continue
        except Exception:
            logger.exception("could not end a speakerless session", extra={"sessionId": candidate.sessionId})
            summary["failed"] += 1
            continue
        if after.status is not SessionStatus.ENDED:
            summary["skipped"] += 1  # a speaker came back
            continue
        summary["ended"].append(after.sessionId)
        logger.info(
            "ended a speakerless session",
            extra={"sessionId": after.sessionId, "speakerlessSince": candidate.speakerlessSince},
        )
        notify.session_changed(rt.fanout, after)  # the shared rule: sessionEnded to all, listeners closed
    metrics.add_metric(name="SweptSessions", unit=MetricUnit.Count, value=len(summary["ended"]))
    return summary


@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(sessionId=None, trigger=(event or {}).get("detail-type", "manual"))
    summary = sweep(get_runtime())
    logger.info("sweep finished", extra={k: v if k != "ended" else len(v) for k, v in summary.items()})
    return summary
