"""Who is connected, told to whom: `listenerCount` to the speaker, `speakerDisconnected` to the listeners.

Shared by both APIs. A leave is a leave however it is found: a `$disconnect`, or a send that finds the
connection gone (410) and unregisters it. So every fan-out that found gone connections is followed by
`after_fanout`: the speaker gets the new count, and when the gone one was the speaker itself, the
listeners are told `speakerDisconnected` (the session goes on; the sweep ends it if no speaker returns).
(Stream events go through `session_runtime.stream`, which calls `after_fanout`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from session_protocol import events
from session_schema.errors import SessionNotFound
from session_schema.models import Connection, Session

from .fanout import Fanout, FanoutResult, is_listener
from .observability import logger


def listener_count_to_speaker(fanout: Fanout, session: Session) -> None:
    """Tell the current speaker (if one is connected) how many listeners the session has now."""
    if session.speakerConnectionId is None or not session.joinable:
        return
    if not fanout.send_to(session.speakerConnectionId, events.listener_count(session)):
        # The speaker's connection is gone (410): the send just unregistered it, which is its leave.
        after = _session(fanout, session.sessionId)
        if after is not None:
            speaker_left(fanout, after)


def refresh_listener_count(fanout: Fanout, session_id: str) -> Session | None:
    """Read the session (strongly) and send its count to the speaker; None when the session is gone."""
    session = _session(fanout, session_id)
    if session is not None:
        listener_count_to_speaker(fanout, session)
    return session


def send(fanout: Fanout, session_id: str, payload: dict[str, Any], **options: Any) -> FanoutResult:
    """`send_many` of one event."""
    return send_many(fanout, session_id, [payload], **options)


def send_many(fanout: Fanout, session_id: str, payloads: Sequence[dict[str, Any]], **options: Any) -> FanoutResult:
    """Every fan-out to a session's connections: send the events in order (Fanout.send_many's options), then tell
    of the connections it found gone (`after_fanout`)."""
    result = fanout.send_many(session_id, payloads, **options)
    after_fanout(fanout, session_id, result)
    return result


def after_fanout(fanout: Fanout, session_id: str, result: FanoutResult | None) -> None:
    """A fan-out that found gone connections removed them: each is a leave, told as a `$disconnect` would."""
    if result is None or not result.gone:
        return
    try:
        session = refresh_listener_count(fanout, session_id)
        if session is not None and result.gone_speaker:
            speaker_left(fanout, session)
    except Exception:  # noqa: BLE001 - the caller's own work is done; a missed count is caught up on the next
        logger.exception("could not tell of the connections a fan-out found gone")


def connection_left(fanout: Fanout, connection: Connection) -> None:
    """An unregistered connection's leave, told to whom it concerns (a `$disconnect`, or the sweep finding a
    connection API Gateway no longer has): a listener's to the speaker as the new count; the current
    speaker's to the listeners, unless another connection of the owner took over meanwhile."""
    if connection.role == "listener":
        refresh_listener_count(fanout, connection.sessionId)
        return
    session = _session(fanout, connection.sessionId)
    if session is not None:
        speaker_left(fanout, session)


def speaker_left(fanout: Fanout, session: Session) -> None:
    """The current speaker is gone (and no other took over): the listeners are told."""
    if session.joinable and session.speakerConnectionId is None:
        send(
            fanout,
            session.sessionId,
            events.speaker_disconnected(session.sessionId),
            only=is_listener,
            size=session.listenerCount,
        )


def _session(fanout: Fanout, session_id: str) -> Session | None:
    try:
        return fanout.store.get_session(session_id, consistent=True)
    except SessionNotFound:
        return None
