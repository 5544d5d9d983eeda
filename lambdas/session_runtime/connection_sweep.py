"""The scheduled sweep as a use case: ghost connections out, half registrations out, seat counts repaired,
speakerless sessions ended.

1. Ghosts. `$disconnect` is best effort on API Gateway, and never comes for connections that were open when
   the stack (locally) or a client crashed with the table intact: their records keep seats. The sweep
   lists every connection registered more than GHOST_GRACE_SECONDS ago (GSI2, by age), asks API Gateway
   about each (`GET @connections/{id}`; 410 = it has no such connection) and removes the gone ones with
   the leave's transaction (seat freed, speaker told the count; a ghost speaker makes the session
   speakerless). A lookup item whose connection is still open but whose connection item is gone (half
   registered: it receives nothing) is closed, so its client reconnects, and removed. Only API Gateway knows
   which connections are gone; asking it costs one GET per connection per sweep, no writes.
2. Half registrations. DynamoDB's TTL deletes a connection's two items (the one in its session, the lookup) at
   different times, and older code could leave one without the other. Every session a connection registered to
   since the sweep last found it empty (GSI3, keys only) has its connection items checked against their lookups
   (BatchGetItem); a connection item without its lookup is removed with its effect on the session. A session
   found with no connection at all leaves that list (a conditional write that loses to a registration).
3. Counts. Each session seen gets its `listenerCount` set to the number of listener connections registered, and
   each entry of its `channelCounts` to the number on that channel, by one write conditional on the counts it
   read (store.repair_listener_count): this catches what no leave decremented (a crash between writes, records
   TTL deleted).
4. Speakerless sessions past SPEAKERLESS_TIMEOUT_SECONDS are ended. Each end is conditional on the session
   still being speakerless since before the cutoff (one write that loses cleanly to a speaker who reconnects
   meanwhile); an ended session's connections are told `sessionEnded` and its listeners closed, exactly like an
   `end` from the speaker.
5. Uploads whose storage notification never came: pending artifacts past UPLOAD_NOTIFICATION_GRACE_SECONDS are
   recorded from a HEAD of their object, or failed once their upload form has expired
   (upload_reconciliation.py).
6. Retention: ended sessions whose retention ends have their data purged, objects too, but for the artifacts
   their owner keeps (session_purge.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_schema.errors import InvalidTransition, SessionNotFound
from session_schema.models import Connection, Session
from session_schema.status import SessionStatus

from . import connection_lifecycle, presence, use_cases
from .observability import logger, metrics
from .runtime import Runtime
from .session_purge import retire_expired_sessions
from .upload_reconciliation import reconcile_unconfirmed_uploads


def sweep_ghosts(runtime: Runtime) -> tuple[dict[str, Any], set[str]]:
    """Step 1: a summary, and the sessions of every connection asked about."""
    store = runtime.store
    cutoff = store.clock() - runtime.settings.ghost_grace_seconds * 1000
    summary: dict[str, Any] = {"asked": 0, "ghosts": 0, "unknown": 0}
    sessions: set[str] = set()
    alive: list[Connection] = []
    candidates = store.iter_connections_registered_before(cutoff)
    with ThreadPoolExecutor(runtime.settings.fanout_concurrency, thread_name_prefix="ghosts") as pool:
        asked = pool.map(lambda c: (c, connection_lifecycle.gone(runtime, c.connectionId)), candidates)
        for connection, gone in asked:
            summary["asked"] += 1
            sessions.add(connection.sessionId)
            if gone is None:
                summary["unknown"] += 1
            elif not gone:
                alive.append(connection)
            elif connection_lifecycle.remove(runtime, connection):  # False: its $disconnect came meanwhile
                summary["ghosts"] += 1
                logger.info("unregistered a ghost connection", extra={"ghost": connection.connectionId})
    deaf = store.without_connection_item(alive)
    for connection in deaf:
        logger.warning("closing a connection registered by its lookup only", extra={"ghost": connection.connectionId})
        runtime.fanout.close(connection.connectionId)
        connection_lifecycle.remove(runtime, connection)
    summary["halfRegistered"] = len(deaf)
    return summary, sessions


def sweep_half_registrations(runtime: Runtime) -> tuple[int, set[str]]:
    """Step 2: how many connection items without their lookup were removed, and the sessions checked."""
    store = runtime.store
    removed = 0
    sessions = set(store.iter_sessions_with_connections())
    for session_id in sorted(sessions):
        connections = list(store.iter_connections(session_id))
        for connection in store.without_lookup(connections):
            if connection_lifecycle.remove(runtime, connection):
                removed += 1
                logger.info(
                    "removed a half registration", extra={"sessionId": session_id, "ghost": connection.connectionId}
                )
        if not connections:
            store.forget_if_empty(session_id)
    return removed, sessions


def repair_counts(runtime: Runtime, sessions: set[str]) -> dict[str, tuple[int, int]]:
    """Step 3: the sessions whose count was repaired, (was, now) each; their speakers told."""
    repaired: dict[str, tuple[int, int]] = {}
    for session_id in sorted(sessions):
        counted = runtime.store.repair_listener_count(session_id)
        if counted is not None:
            repaired[session_id] = counted
            was, now = counted
            logger.warning("listenerCount repaired", extra={"sessionId": session_id, "was": was, "now": now})
            presence.refresh_listener_count(runtime.fanout, session_id)
    return repaired


def end_speakerless(runtime: Runtime, speakerless: list[Session], cutoff: int) -> dict[str, Any]:
    """Step 4."""
    summary: dict[str, Any] = {"checked": 0, "ended": [], "skipped": 0, "failed": 0}
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
    return summary


def sweep(runtime: Runtime) -> dict[str, Any]:
    now = runtime.store.clock()
    cutoff = now - runtime.settings.speakerless_timeout_seconds * 1000
    # One pass over the speakerless index serves steps 3 and 4. A ghost speaker found in step 1 makes its
    # session speakerless from now, which is not past the cutoff: it is not in this sweep's list to end.
    speakerless = list(runtime.store.iter_speakerless(now))
    ghosts, seen = sweep_ghosts(runtime)
    half_registered, occupied = sweep_half_registrations(runtime)
    repaired = repair_counts(runtime, seen | occupied | {s.sessionId for s in speakerless})
    ended = end_speakerless(runtime, speakerless, cutoff)
    uploads = reconcile_unconfirmed_uploads(runtime)
    retired = retire_expired_sessions(runtime)
    metrics.add_metric(name="GhostConnections", unit=MetricUnit.Count, value=ghosts["ghosts"])
    metrics.add_metric(
        name="HalfRegistrations", unit=MetricUnit.Count, value=half_registered + ghosts["halfRegistered"]
    )
    metrics.add_metric(name="ListenerCountsRepaired", unit=MetricUnit.Count, value=len(repaired))
    metrics.add_metric(name="SweptSessions", unit=MetricUnit.Count, value=len(ended["ended"]))
    ghosts["halfRegistered"] += half_registered
    metrics.add_metric(name="UploadsReconciled", unit=MetricUnit.Count, value=sum(uploads.values()))
    metrics.add_metric(name="SessionsRetired", unit=MetricUnit.Count, value=retired["retired"])
    return {"cutoff": cutoff, **ended, **ghosts, "repaired": repaired, "uploads": uploads, "retention": retired}
