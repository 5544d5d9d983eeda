"""What the handler attack tests share: the two users, the public view's fields, and what a refused attack
must leave unchanged (read straight from the table)."""

from __future__ import annotations

from tests.support.contract import PUBLIC_FIELDS
from tests.support.handlers import Handlers

OWNER = "alice"
OTHER = "bob"
__all__ = ["OTHER", "OWNER", "PUBLIC_FIELDS", "owned_sessions", "snapshot"]


def owned_sessions(handlers: Handlers, user: str) -> int:
    return len(handlers.store.list_user_sessions(user, limit=100, cursor=None).items)


def snapshot(handlers: Handlers, session_id: str) -> tuple:
    session = handlers.store.get_session(session_id, consistent=True)
    messages = handlers.store.list_messages(session_id, limit=100, cursor=None).items
    return session.status, session.title, session.muted, session.seq, len(messages)
