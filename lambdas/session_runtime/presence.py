"""Who is connected, told to whom: `listenerCount` and `presenceChanged` to the speaker (conflated, through
session_runtime/conflation.py; `presenceChanged` to everyone when the session's `presence` is `public`),
`speakerDisconnected` to the listeners.

Shared by both APIs. A leave is a leave however it is found: a `$disconnect`, or a send that finds the
connection gone (410) and unregisters it. So every fan-out that found gone connections is followed by
`after_fanout`: each gone connection is a presence change, and when the gone one was the speaker itself, the
listeners are told `speakerDisconnected` (the session goes on; the sweep ends it if no speaker returns).
(Stream events go through `session_runtime.stream`, which calls `after_fanout`.)

A change (a join, a leave, a presence update, a channel switch) is recorded in the session's presence slot and
the notice is built when it is sent, from the state then: counts from the session item (read strongly), the
members that joined or changed from the presence partition (only while the session has at most
PRESENCE_MEMBERS_MAX connections; past it, the counts only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from session_protocol import events
from session_schema.errors import SessionNotFound
from session_schema.models import ConnectionEntry, Session

from .fanout import Fanout, FanoutResult, is_listener
from .observability import logger

# A connection's change, as the presence slot keeps it until the next notice (a join or a leave overwrites what
# pends for it; an update never overwrites a join: the joined member is sent as it is then).
JOINED, UPDATED, LEFT, MOVED = 1, 2, 3, 4  # MOVED: to another channel (an update that moves the counts)
COUNTS_ONLY = "*"  # the entry a large session's changes record instead of one per connection


def changed(session: Session, connection_id: str, change: int) -> None:
    """Record a connection's presence change; its notice is sent now or trails (session_runtime/conflation.py)."""
    from .runtime import get_runtime

    runtime = get_runtime()
    large = _connections(session) > runtime.settings.presence_members_max
    entry = COUNTS_ONLY if large else connection_id
    runtime.notices.changed(session.sessionId, "members", {entry: change}, keep=change == UPDATED and not large)


def left(fanout: Fanout, session_id: str, connection_ids: Sequence[str]) -> Session | None:
    """Connections that left (unregistered): recorded as presence changes; the session as it is now."""
    session = _session(fanout, session_id)
    if session is not None and session.joinable:
        for connection_id in connection_ids:
            changed(session, connection_id, LEFT)
    return session


def _connections(session: Session) -> int:
    return session.listenerCount + (1 if session.speakerConnectionId is not None else 0)


def send_notice(fanout: Fanout, session_id: str, pending: dict[str, int], members_max: int) -> None:
    """The presence notice of the changes taken from the slot: `listenerCount` to the speaker when the count may
    have moved, `presenceChanged` to its audience (the speaker's connection only when its protocol has the frame)."""
    session = _session(fanout, session_id)
    if session is None or not session.joinable:
        return
    if COUNTS_ONLY in pending or any(change != UPDATED for change in pending.values()):
        listener_count_to_speaker(fanout, session)
    count = _connections(session)
    channels = {channel.name: channel.listenerCount for channel in session.channelListeners}
    if count <= members_max and COUNTS_ONLY not in pending:
        members = fanout.store.all_members(session_id)
        shown = {c: members[c].view() for c, change in pending.items() if change != LEFT and c in members}
        notice = events.presence_changed(
            count,
            channels,
            joined=[view for c, view in shown.items() if pending[c] == JOINED],
            left=[c for c, change in pending.items() if change == LEFT],
            updated=[view for c, view in shown.items() if pending[c] in (UPDATED, MOVED)],
        )
    else:
        notice = events.presence_changed(count, channels)
    to_audience(fanout, session, session.presence, notice)


def to_audience(fanout: Fanout, session: Session, audience: str, notice: dict[str, Any]) -> None:
    """A presence or reactions notice: to every connection when `public` (each as its protocol allows), else to the
    current speaker when its protocol has the frame."""
    if audience == "public":
        send(fanout, session.sessionId, notice, size=_connections(session))
        return
    speaker_id = session.speakerConnectionId
    if speaker_id is None:
        return
    speaker = fanout.store.get_connection(speaker_id)
    if speaker is not None and speaker.protocolVersion >= events.SINCE[notice["type"]]:
        fanout.send_to(speaker_id, notice)


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
        session = left(fanout, session_id, result.gone)
        if session is not None and result.gone_speaker:
            speaker_left(fanout, session)
    except Exception:  # noqa: BLE001 - the caller's own work is done; a missed count is caught up on the next
        logger.exception("could not tell of the connections a fan-out found gone")


def connection_left(fanout: Fanout, connection: ConnectionEntry) -> None:
    """An unregistered connection's leave, told to whom it concerns (a `$disconnect`, or the sweep finding a
    connection API Gateway no longer has): a presence change (the speaker hears the new count); the current
    speaker's also to the listeners, unless another connection of the owner took over meanwhile."""
    session = left(fanout, connection.sessionId, [connection.connectionId])
    if session is not None and connection.role == "speaker":
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
            scope=session.connection_scope(),
        )


def session_of(fanout: Fanout, session_id: str) -> Session | None:
    """The session read strongly; None when it is gone."""
    return _session(fanout, session_id)


def _session(fanout: Fanout, session_id: str) -> Session | None:
    try:
        return fanout.store.get_session(session_id, consistent=True)
    except SessionNotFound:
        return None
