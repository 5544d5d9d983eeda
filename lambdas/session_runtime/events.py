"""Every message the server sends to WebSocket clients, in one vocabulary.

Clients switch on `type`; each builder here is the only place that message's shape is spelled.
"""

from __future__ import annotations

from typing import Any

from session_schema.models import Artifact, Message, Session


def joined(role: str, session: Session, connection_id: str) -> dict[str, Any]:
    return {"type": "joined", "role": role, "session": session.public_view(), "connectionId": connection_id}


def pong(ts: int) -> dict[str, Any]:
    return {"type": "pong", "ts": ts}


def broadcast(data: Any, ts: int, seq: int) -> dict[str, Any]:
    return {"type": "broadcast", "data": data, "ts": ts, "seq": seq}


def broadcast_sent(seq: int, ts: int, delivered: int) -> dict[str, Any]:
    """The speaker's answer to a broadcast: its sequence number and how many listeners it reached."""
    return {"type": "broadcastSent", "seq": seq, "ts": ts, "delivered": delivered}


def message(msg: Message) -> dict[str, Any]:
    return {"type": "message", **msg.view()}


def history(items: list[Message], next_cursor: str | None = None) -> dict[str, Any]:
    return {"type": "history", "items": [m.view() for m in items], "nextCursor": next_cursor}


def session_updated(session: Session) -> dict[str, Any]:
    return {"type": "sessionUpdated", "session": session.public_view()}


def session_ended(session: Session) -> dict[str, Any]:
    return {"type": "sessionEnded", "session": session.public_view()}


def listener_count(session: Session) -> dict[str, Any]:
    return {"type": "listenerCount", "sessionId": session.sessionId, "listenerCount": session.listenerCount}


def speaker_disconnected(session_id: str) -> dict[str, Any]:
    return {"type": "speakerDisconnected", "sessionId": session_id}


def artifact_updated(artifact: Artifact) -> dict[str, Any]:
    return {"type": "artifactUpdated", "artifact": artifact.public_view()}


def error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **details}
