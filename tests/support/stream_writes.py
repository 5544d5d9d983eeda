"""Session changes published on the stream through the runtime's one owner (session_runtime/stream.py `write`),
for tests that set a session up or check the store's side with a store alone: the same write the use cases make,
told to no one."""

from __future__ import annotations

from typing import Any

from session_protocol import events
from session_runtime import stream
from session_schema.models import Artifact, Message, Session
from session_schema.status import ArtifactStatus, SessionStatus
from session_store.store import SessionStore
from session_store.stream_log import ItemRefused


def change_status(
    store: SessionStore, session_id: str, target: SessionStatus, **options: Any
) -> tuple[Session, Session]:
    """(before, after), as use_cases.change_status."""
    written = stream.write(
        store, session_id, lambda head: stream.session_draft(head, store.status_change(head, target, **options))
    )
    return written.before, written.after


def update_session(store: SessionStore, session_id: str, **options: Any) -> tuple[Session, Session]:
    """(before, after), as use_cases.update_session."""
    written = stream.write(
        store, session_id, lambda head: stream.session_draft(head, store.session_update(head, **options))
    )
    return written.before, written.after


def append_message(
    store: SessionStore, session_id: str, sender_id: str, text: str, *, speaker: str | None = None, ttl_days: int = 30
) -> tuple[Message, Session]:
    """(the message as stored, the session as its write left it)."""
    message = store.new_message(session_id, sender_id, text, ttl_days=ttl_days)

    def draft(head: Session) -> stream.Draft[Message]:
        numbered, change = store.message_change(head, message, speaker=speaker)
        return stream.Draft([events.message(numbered)], change, numbered)

    written = stream.write(store, session_id, draft)
    return written.result, written.after


def broadcast(store: SessionStore, session_id: str, data: Any = None, *, speaker: str | None = None) -> Session:
    """The session as a broadcast's write left it (its `seq` is the broadcast's)."""

    def draft(head: Session) -> stream.Draft[None]:
        change = store.broadcast_change(head, speaker=speaker)
        return stream.Draft([events.broadcast(data, store.clock(), head.seq + 1)], change, None)

    return stream.write(store, session_id, draft).after


def change_artifact_status(
    store: SessionStore, session_id: str, artifact_id: str, target: ArtifactStatus
) -> tuple[Artifact, Session]:
    """(the artifact after, the session as the write left it), as use_cases.change_artifact_status."""
    current = store.get_artifact(session_id, artifact_id)
    while True:
        try:
            written = stream.write(store, session_id, _artifact_draft(store, current, target))
            return written.result, written.after
        except ItemRefused as refused:
            current = store.refused_artifact(session_id, artifact_id, refused)


def _artifact_draft(store: SessionStore, current: Artifact, target: ArtifactStatus) -> Any:
    def draft(head: Session) -> stream.Draft[Artifact]:
        after, change = store.artifact_change(current, target)
        return stream.Draft([events.artifact_updated(after, head.seq + 1)], change, after)

    return draft
