"""Who is connected, told to whom: `listenerCount` to the speaker, `speakerDisconnected` to the listeners.

(State changes and messages go through `session_runtime.notify`, shared with the HTTP API.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from session_runtime import events
from session_runtime.fanout import Fanout, FanoutResult
from session_runtime.observability import logger
from session_runtime.runtime import Runtime
from session_schema.errors import SessionNotFound
from session_schema.models import Connection, Session


def listener_count_to_speaker(rt: Runtime, session: Session) -> None:
    """Tell the current speaker (if one is connected) how many listeners the session has now."""
    if session.speakerConnectionId is not None and session.joinable:
        rt.fanout.send_to(session.speakerConnectionId, events.listener_count(session))


def refresh_listener_count(rt: Runtime, session_id: str) -> Session | None:
    """Read the session (strongly) and send its count to the speaker; None when the session is gone."""
    try:
        session = rt.store.get_session(session_id, consistent=True)
    except SessionNotFound:
        return None
    listener_count_to_speaker(rt, session)
    return session


def after_fanout(rt: Runtime, session_id: str, result: FanoutResult | None) -> None:
    """A fan-out that found gone connections removed them: that is a leave, so the speaker hears of it."""
    if result is not None and result.gone:
        try:
            refresh_listener_count(rt, session_id)
        except Exception:  # noqa: BLE001 - the caller's own work is done; a missed count is caught up on the next
            logger.exception("could not send listenerCount after a fan-out")


def speaker_left(rt: Runtime, session: Session) -> None:
    """The current speaker is gone (and no other took over): the listeners are told."""
    if session.joinable and session.speakerConnectionId is None:
        result = rt.fanout.send(
            session.sessionId, events.speaker_disconnected(session.sessionId), only=lambda c: c.role == "listener"
        )
        after_fanout(rt, session.sessionId, result)


class ExceptCaller(Fanout):
    """The runtime's fan-out minus one connection: the caller, who gets the same event as its answer."""

    def __init__(self, base: Fanout, connection_id: str) -> None:
        super().__init__(base.store, base.client, base.concurrency)
        self._excluded = connection_id

    def send(
        self,
        session_id: str,
        payload: dict[str, Any],
        *,
        only: Callable[[Connection], bool] | None = None,
        close: Callable[[Connection], bool] | None = None,
    ) -> FanoutResult:
        def selected(connection: Connection) -> bool:
            return connection.connectionId != self._excluded and (only is None or only(connection))

        return super().send(session_id, payload, only=selected, close=close)
