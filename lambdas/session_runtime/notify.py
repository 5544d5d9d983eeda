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

These run after the write has succeeded. A failure to notify is logged and counted, never raised: the
state change happened, so the caller's answer must say so (a client retrying a write that succeeded
would duplicate it). Late or missed clients catch up from the stored state and message history.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_schema.models import Artifact, Connection, Message, Session

from . import events, presence
from .fanout import Fanout, FanoutResult
from .observability import logger, metrics


def is_listener(connection: Connection) -> bool:
    return connection.role == "listener"


def session_changed(fanout: Fanout, session: Session) -> FanoutResult | None:
    """Tell every connection the session's new state (and disconnect listeners once it has ended)."""
    if session.joinable:
        return _send(fanout, session.sessionId, events.session_updated(session))
    updated, ended = events.session_updated(session), events.session_ended(session)
    return _send(fanout, session.sessionId, updated, then=ended, close=is_listener)


def message_stored(fanout: Fanout, message: Message) -> FanoutResult | None:
    return _send(fanout, message.sessionId, events.message(message))


def artifact_changed(fanout: Fanout, artifact: Artifact) -> FanoutResult | None:
    return _send(fanout, artifact.sessionId, events.artifact_updated(artifact))


def _send(fanout: Fanout, session_id: str, payload: dict[str, Any], **options: Any) -> FanoutResult | None:
    try:
        result = fanout.send(session_id, payload, **options)
    except Exception:  # noqa: BLE001 - the write is done; see the module docstring
        logger.exception("could not notify connections", extra={"sessionId": session_id, "type": payload.get("type")})
        metrics.add_metric(name="NotifyFailed", unit=MetricUnit.Count, value=1)
        return None
    presence.after_fanout(fanout, session_id, result)
    return result
