"""Retiring a session's data: the owner's `DELETE /sessions/{id}/data` (everything), and the sweep at the end of an
ended session's retention (everything but the artifacts its owner keeps).

A session ended without kept artifacts is listed by its `expiresAt` (GSI2 `RETIRING#<shard>`). The sweep takes
the ones within RETIREMENT_LEAD_SECONDS of it, before DynamoDB's TTL may delete the session item (TTL never
deletes an item before its `expiresAt`), so no artifact record or object outlives the item that lists it.

Each call deletes at most PURGE_BATCH items, their objects first (a failure leaves the records, so a retry finds
the keys again), the session item last and only once nothing else is left: a call that stops (the bound, a crash)
leaves a smaller session that the next call resumes. With kept artifacts left over, the session item stays
without expiry instead (and leaves the retiring index).
"""

from __future__ import annotations

from dataclasses import dataclass

from session_schema.errors import SessionNotFound
from session_schema.models import Session
from session_schema.status import SessionStatus

from .observability import logger
from .runtime import Runtime
from .use_cases import change_status, delete_objects

PURGE_BATCH = 200  # items one call deletes at most (their objects with them)
RETIREMENT_LEAD_SECONDS = 3600  # how long before its TTL expiry the sweep purges an ended session


@dataclass(frozen=True)
class Purged:
    """What one purge call did: `deleted` items; `done` when nothing of the session is left but what is kept."""

    deleted: int
    done: bool


def purge(runtime: Runtime, session: Session, *, spare_kept: bool) -> Purged:
    """One bounded step of deleting `session`'s data (an ended one: see the module docstring)."""
    store = runtime.store
    spare = store.kept_roots(session.sessionId) if spare_kept else set()
    batch = store.session_items(session.sessionId, at_most=PURGE_BATCH, spare=spare)
    delete_objects(runtime, batch.object_keys)
    store.delete_keys(batch.keys)
    if len(batch.keys) == PURGE_BATCH:
        return Purged(len(batch.keys), done=False)
    if batch.kept:
        store.keep_ended_session(session)
    else:
        store.delete_ended_session(session.sessionId)
    return Purged(len(batch.keys), done=True)


def delete_session_data(runtime: Runtime, session: Session) -> Purged:
    """The owner's delete of everything the session holds: a joinable session is ended first (everyone told,
    listeners closed, as `DELETE /sessions/{id}`); then one bounded step."""
    if session.joinable:
        try:
            _, session = change_status(runtime, session.sessionId, SessionStatus.ENDED, runtime.fanout)
        except SessionNotFound:
            return Purged(0, done=True)
    return purge(runtime, session, spare_kept=False)


def retire_expired_sessions(runtime: Runtime, *, budget: int = 10) -> dict[str, int]:
    """The sweep's step: purge ended sessions whose retention ends within RETIREMENT_LEAD_SECONDS, at most
    `budget` purge steps a run (a large one continues at the next run: it stays listed until done)."""
    cutoff = runtime.store.clock() + RETIREMENT_LEAD_SECONDS * 1000
    summary = {"retired": 0, "items": 0, "unfinished": 0, "failed": 0}
    for session in runtime.store.iter_retiring(cutoff):
        if budget <= 0:
            summary["unfinished"] += 1
            continue
        try:
            while budget > 0:
                budget -= 1
                step = purge(runtime, session, spare_kept=True)
                summary["items"] += step.deleted
                if step.done:
                    summary["retired"] += 1
                    break
            else:
                summary["unfinished"] += 1
        except Exception:
            logger.exception("could not retire a session's data", extra={"sessionId": session.sessionId})
            summary["failed"] += 1
    return summary
