"""The scheduled sweep: ghost connections out, seat counts repaired, speakerless sessions ended.

1. Ghosts. `$disconnect` is best effort on API Gateway, and never comes for connections that were open when
   the stack (locally) or a client crashed with the table intact: their records keep seats. The sweep
   lists every connection registered more than GHOST_GRACE_SECONDS ago (GSI2, by age), asks API Gateway
   about each (`GET @connections/{id}`; 410 = it has no such connection) and unregisters the gone ones with
   the `$disconnect` transaction (seat freed, speaker told the count; a ghost speaker makes the session
   speakerless). A scheduled sweep rather than a DynamoDB Streams consumer of TTL deletions: TTL deletes a
   connection record hours after its TTL (3 h) at best, so a stream of those frees a ghost's seat hours
   late, and a ghost whose record is still there makes no stream event at all; only API Gateway knows
   which connections are gone, and asking it costs one GET per connection per sweep, no writes.
2. Counts. Each session seen (any of its connections was listed, or it is speakerless) gets its
   `listenerCount` set to the number of listener connections registered, by a write conditional on the
   count it read (store.repair_listener_count): this catches what no leave decremented (records TTL
   deleted before this sweep existed, a crash between writes).
3. Speakerless sessions past SPEAKERLESS_TIMEOUT_SECONDS are ended. Each end is conditional on the
   session still being speakerless since before the cutoff (one write that loses cleanly to a speaker who
   reconnects meanwhile); an ended session's connections are told `sessionEnded` and its listeners closed,
   exactly like an `end` from the speaker.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from session_runtime import presence, use_cases
from session_runtime.observability import logger, metrics, tracer
from session_runtime.runtime import Runtime, get_runtime
from session_schema.errors import InvalidTransition, SessionNotFound
from session_schema.models import Session
from session_schema.status import SessionStatus


def _gone(runtime: Runtime, connection_id: str) -> bool | None:
    """Whether API Gateway no longer has the connection: True on 410, False when it answers, None when the
    question failed (left for the next sweep)."""
    try:
        runtime.management.get_connection(ConnectionId=connection_id)
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410:
            return True
        logger.warning("could not ask API Gateway about a connection", extra={"awsCode": error.response["Error"]})
        return None
    except Exception:  # noqa: BLE001 - a timeout or a dropped connection: ask again next time
        logger.warning("could not ask API Gateway about a connection", exc_info=True)
        return None
    return False


def sweep_ghosts(runtime: Runtime, speakerless: list[Session]) -> dict[str, Any]:
    """Steps 1 and 2 of the module docstring (`speakerless`: the index's sessions, counted too); a summary."""
    cutoff = runtime.store.clock() - runtime.settings.ghost_grace_seconds * 1000
    summary: dict[str, Any] = {"asked": 0, "ghosts": 0, "unknown": 0, "repaired": {}}
    sessions: set[str] = set()
    candidates = runtime.store.iter_connections_registered_before(cutoff)
    with ThreadPoolExecutor(runtime.settings.fanout_concurrency, thread_name_prefix="ghosts") as pool:
        for connection, gone in pool.map(lambda c: (c, _gone(runtime, c.connectionId)), candidates):
            summary["asked"] += 1
            sessions.add(connection.sessionId)
            if gone is None:
                summary["unknown"] += 1
            elif gone:
                summary["ghosts"] += 1
                # None: already unregistered meanwhile (its $disconnect, or a fan-out of this sweep found it).
                if runtime.store.unregister_connection(connection.connectionId) is not None:
                    logger.info("unregistered a ghost connection", extra={"ghost": connection.connectionId})
                    presence.connection_left(runtime.fanout, connection)
    sessions.update(s.sessionId for s in speakerless)
    for session_id in sorted(sessions):
        repaired = runtime.store.repair_listener_count(session_id)
        if repaired is not None:
            summary["repaired"][session_id] = repaired
            was, now = repaired
            logger.warning("listenerCount repaired", extra={"sessionId": session_id, "was": was, "now": now})
            presence.refresh_listener_count(runtime.fanout, session_id)
    metrics.add_metric(name="GhostConnections", unit=MetricUnit.Count, value=summary["ghosts"])
    metrics.add_metric(name="ListenerCountsRepaired", unit=MetricUnit.Count, value=len(summary["repaired"]))
    return summary


def sweep(runtime: Runtime) -> dict[str, Any]:
    now = runtime.store.clock()
    cutoff = now - runtime.settings.speakerless_timeout_seconds * 1000
    # One pass over the speakerless index serves both steps. A ghost speaker found in step 1 makes its
    # session speakerless from now, which is not past the cutoff: it is not in this sweep's list to end.
    speakerless = list(runtime.store.iter_speakerless(now))
    ghosts = sweep_ghosts(runtime, speakerless)
    summary: dict[str, Any] = {"cutoff": cutoff, "checked": 0, "ended": [], "skipped": 0, "failed": 0, **ghosts}
    for candidate in speakerless:
        if candidate.speakerlessSince is None or candidate.speakerlessSince >= cutoff:
            continue
        summary["checked"] += 1
        try:
            # everyone told by the shared rule when it ended: sessionEnded to all, listeners closed
            _, after = use_cases.change_status(
                runtime, candidate.sessionId, SessionStatus.ENDED, runtime.fanout, only_if_speakerless_before=cutoff
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
