"""The status vocabularies of sessions and artifacts, and the one rule for moving between states.

Every status change in the system asks `require_transition` first and then writes conditionally on the
status it came from, so the table can never hold a move the contract forbids.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from .errors import InvalidTransition


class SessionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class ArtifactStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


SESSION_TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.ACTIVE: frozenset({SessionStatus.PAUSED, SessionStatus.ENDED}),
    SessionStatus.PAUSED: frozenset({SessionStatus.ACTIVE, SessionStatus.ENDED}),
    SessionStatus.ENDED: frozenset(),
}

ARTIFACT_TRANSITIONS: dict[ArtifactStatus, frozenset[ArtifactStatus]] = {
    # pending -> completed: the upload of a kind with no processor, confirmed by storage (session_runtime/uploads.py).
    ArtifactStatus.PENDING: frozenset({ArtifactStatus.PROCESSING, ArtifactStatus.COMPLETED, ArtifactStatus.FAILED}),
    ArtifactStatus.PROCESSING: frozenset({ArtifactStatus.COMPLETED, ArtifactStatus.FAILED}),
    ArtifactStatus.COMPLETED: frozenset(),
    ArtifactStatus.FAILED: frozenset(),
}

JOINABLE: frozenset[SessionStatus] = frozenset({SessionStatus.ACTIVE, SessionStatus.PAUSED})
FINAL_ARTIFACT_STATES: frozenset[ArtifactStatus] = frozenset(
    s for s, nxt in ARTIFACT_TRANSITIONS.items() if not nxt
)

S = TypeVar("S", SessionStatus, ArtifactStatus)


def _table_for(current: SessionStatus | ArtifactStatus) -> dict[Any, frozenset[Any]]:
    return SESSION_TRANSITIONS if isinstance(current, SessionStatus) else ARTIFACT_TRANSITIONS


def is_legal_transition(current: S, target: S) -> bool:
    """True when `current -> target` is a move the contract allows. Staying put is not a move."""
    if type(current) is not type(target):
        return False
    return target in _table_for(current)[current]


def require_transition(current: S, target: S) -> None:
    """Raise `InvalidTransition` naming both states unless the move is legal."""
    if not is_legal_transition(current, target):
        raise InvalidTransition(current=current.value, target=target.value)


def legal_sources(target: SessionStatus) -> tuple[SessionStatus, ...]:
    """The statuses a session may move to `target` from (a conditional write names exactly these)."""
    return tuple(s for s, nxt in SESSION_TRANSITIONS.items() if target in nxt)


def is_joinable(status: SessionStatus) -> bool:
    return status in JOINABLE
