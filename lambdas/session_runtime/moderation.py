"""The speaker's moderation: remove a listener (`kick`), and keep its signed-in user or its display name out of the
session (`ban`: checked by every listener registration's transaction, session_store/store.py)."""

from __future__ import annotations

from session_protocol import events
from session_schema.models import Ban, Connection, Session
from session_store.presence_store import ban_subjects

from . import connection_lifecycle
from .runtime import Runtime


def ban(runtime: Runtime, session: Session, target: Connection) -> list[Connection]:
    """Keep the target's user and display name out of the session, for as long as its ended records are kept: the
    session's other listener connections the ban keeps out (its user's other tabs, another under its name), to be
    removed as the target is ("out of the session for its duration": not only from now on)."""
    store = runtime.store
    member = store.get_member(session.sessionId, target.connectionId)
    name = member.name if member is not None else None
    now = store.clock()
    expires_at = now // 1000 + runtime.settings.ended_session_ttl_days * 86400
    for subject in ban_subjects(target.userId, name):
        store.ban(Ban(sessionId=session.sessionId, subject=subject, createdAt=now, expiresAt=expires_at))
    # Read after the bans are written: a registration that commits later is refused by them, so none is missed.
    others = store.listeners_banned_by(session.sessionId, target.userId, name)
    found = (store.get_connection(m.connectionId) for m in others if m.connectionId != target.connectionId)
    return [c for c in found if c is not None and c.sessionId == session.sessionId]


def remove(runtime: Runtime, target: Connection, *, banned: bool) -> None:
    """Tell the listener it was removed (when its protocol has `kicked`), close its connection, and unregister it
    now, its leave told (presence and counts follow at once; its `$disconnect` then finds nothing to do)."""
    fanout = runtime.fanout
    if target.protocolVersion >= events.SINCE["kicked"]:
        fanout.send_to(target.connectionId, events.kicked(target.sessionId, target.connectionId, banned))
    fanout.close(target.connectionId)
    connection_lifecycle.remove(runtime, target)
