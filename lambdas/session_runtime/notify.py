"""What connected clients are told after a session's state was written, shared by both APIs.

One rule for both the HTTP API (PATCH / DELETE / POST messages) and the WebSocket API (pause, resume,
mute, unmute, end, sendMessage):

- a joinable session that changed: every connection gets `sessionUpdated`;
- an ended session: every connection gets `sessionUpdated` (the status change, as for any other) and
  then `sessionEnded`, then the listeners are disconnected (the speaker keeps its connection to see the
  end; its own leave unregisters it);
- a stored message: every connection gets `message`;
- an artifact whose status changed: every connection gets `artifactUpdated` (public view).

Connections a send finds gone are unregistered and their leave told (`presence.after_fanout`): the
speaker hears the new count, the listeners hear `speakerDisconnected` when it was the speaker.

Each of these is a stream event: its write claimed its `seq`, and it is kept (`keep`, or by the store in
the write's own transaction) before it is sent, so a client that saw it can resume after it.

These run after the write has succeeded. A failure to notify is logged and counted, never raised: the
state change happened, so the caller's answer must say so (a client retrying a write that succeeded
would duplicate it). Late or missed clients catch up from the stored state and message history.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_protocol import events
from session_schema.models import Artifact, Message, Session
from session_store.store import SessionStore

from . import presence
from .fanout import Fanout, FanoutResult, is_listener
from .observability import logger, metrics

__all__ = ["artifact_changed", "is_listener", "keep", "message_stored", "session_changed"]


def keep(store: SessionStore, session_id: str, frames: list[dict[str, Any]]) -> None:
    """Keep stream events for recovery. A failure is logged and counted, never raised: the change happened and
    is still sent live; only a client resuming across it gets `recovered: false`."""
    try:
        store.append_stream(session_id, frames)
    except Exception:  # noqa: BLE001 - see above
        logger.exception("could not keep stream events", extra={"sessionId": session_id, "count": len(frames)})
        metrics.add_metric(name="StreamKeepFailed", unit=MetricUnit.Count, value=len(frames))


def session_changed(fanout: Fanout, session: Session) -> FanoutResult | None:
    """Keep and tell every connection the session's new state (and disconnect listeners once it has ended).
    `session` is the state its write left, `seq` included (the events it claimed end there)."""
    frames = events.session_change(session)
    keep(fanout.store, session.sessionId, frames)
    if session.joinable:
        return _send(fanout, session, frames[0])
    return _send(fanout, session, frames[0], then=frames[1], close=is_listener)


def message_stored(fanout: Fanout, message: Message, session: Session) -> FanoutResult | None:
    """Tell every connection of a stored message (kept in its stream by the store's own write; `session`: as
    that write left it)."""
    return _send(fanout, session, events.message(message))


def artifact_changed(fanout: Fanout, artifact: Artifact, session: Session | None) -> FanoutResult | None:
    """Tell every connection of an artifact's change (kept at `session.seq` by the store's own write; None: not
    told)."""
    if session is None:
        return None
    return _send(fanout, session, events.artifact_updated(artifact, session.seq))


def _send(fanout: Fanout, session: Session, payload: dict[str, Any], **options: Any) -> FanoutResult | None:
    """Every fan-out to a whole session: sized by the `listenerCount` its own write returned (and the speaker),
    so the same shard decision (session_runtime/shards.py) applies to each kind with no read."""
    session_id = session.sessionId
    try:
        return presence.send(fanout, session_id, payload, size=session.listenerCount + 1, **options)
    except Exception:  # noqa: BLE001 - the write is done; see the module docstring
        logger.exception("could not notify connections", extra={"sessionId": session_id, "type": payload.get("type")})
        metrics.add_metric(name="NotifyFailed", unit=MetricUnit.Count, value=1)
        return None
