"""The session changes both APIs and the sweep make, each as store + notify, with the TTL settings bound here.

HTTP routes (PATCH/DELETE a session, POST a message), WebSocket actions (pause, resume, end, mute, unmute,
sendMessage) and the sweep (ending a speakerless session) call these, so they cannot drift apart: the same
write, the same TTL, and everyone told by the same rule exactly when the write changed something (its stream
seq moved; a repeated mute or a sweep that finds the speaker back changes nothing and tells no one).
`audience` is who is told: the session's whole fan-out, or a WebSocket caller's `others` (it gets its own answer).
"""

from __future__ import annotations

from session_schema.models import Message, Session
from session_schema.status import SessionStatus

from . import events, notify
from .fanout import Fanout
from .runtime import Runtime


def _told(audience: Fanout, before: Session, after: Session) -> tuple[Session, Session]:
    if after.seq != before.seq:
        notify.session_changed(audience, after)
    return before, after


def change_status(
    rt: Runtime,
    session_id: str,
    target: SessionStatus,
    audience: Fanout,
    *,
    title: str | None = None,
    muted: bool | None = None,
    speaker: str | None = None,
    only_if_speakerless_before: int | None = None,
) -> tuple[Session, Session]:
    """A status transition (with title/muted in the same write): (before, after), everyone told of a change."""
    before, after = rt.store.change_status(
        session_id,
        target,
        ended_ttl_days=rt.settings.ended_session_ttl_days,
        title=title,
        muted=muted,
        speaker=speaker,
        only_if_speakerless_before=only_if_speakerless_before,
    )
    return _told(audience, before, after)


def update_session(
    rt: Runtime,
    session_id: str,
    audience: Fanout,
    *,
    title: str | None = None,
    muted: bool | None = None,
    speaker: str | None = None,
) -> tuple[Session, Session]:
    """Title and/or muted of a joinable session: (before, after), everyone told of a change."""
    before, after = rt.store.update_session(session_id, title=title, muted=muted, speaker=speaker)
    return _told(audience, before, after)


def post_message(
    rt: Runtime, session_id: str, sender_id: str, text: str, audience: Fanout, *, speaker: str | None = None
) -> Message:
    """Store a message (kept MESSAGE_TTL_DAYS, with its stream event) and send it to `audience`."""
    message, session = rt.store.append_message(
        session_id, sender_id, text, ttl_days=rt.settings.message_ttl_days, speaker=speaker, announce=events.message
    )
    notify.message_stored(audience, message, session)
    return message
