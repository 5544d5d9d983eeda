"""Domain errors with the contract's codes. Both APIs map these to their answers in one place each.

A leaf: no AWS SDK, no records (session_store.aws_errors classifies botocore's failures)."""

from __future__ import annotations

from .routes import WS_ACTIONS


class DomainError(Exception):
    """An expected refusal: carries the contract's error code, its HTTP status and the field at fault."""

    code: str = "INTERNAL_ERROR"
    status: int = 500
    retry_after_seconds: int | None = None  # when to try again (a `Retry-After`), for refusals that pass

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def details(self) -> dict[str, object]:
        return {"field": self.field} if self.field else {}


class ValidationFailed(DomainError):
    code, status = "VALIDATION_ERROR", 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class InvalidCursor(ValidationFailed):
    def __init__(self) -> None:
        super().__init__("cursor", "is not a cursor this listing issued")


class InvalidSessionId(DomainError):
    code, status = "INVALID_SESSION_ID", 400

    def __init__(self, value: str) -> None:
        super().__init__(f"{value[:64]!r} is not a session ID (adjective-noun-NNN)", field="sessionId")


class Unauthorized(DomainError):
    code, status = "UNAUTHORIZED", 401


class Forbidden(DomainError):
    code, status = "FORBIDDEN", 403


class Banned(Forbidden):
    """A listener whose signed-in user or display name the session's speaker banned (`kick {ban: true}`)."""

    def __init__(self, session_id: str, *, field: str | None = None) -> None:
        super().__init__(f"you were removed from session {session_id} by its speaker", field=field)


class NotCurrentSpeaker(Forbidden):
    """A speaker action from an owner connection that another one of the owner's connections replaced."""

    def __init__(self) -> None:
        super().__init__(
            "only the speaker may do this: another connection of the session's owner took over as the speaker;"
            " reconnect to take over again"
        )


class SessionNotFound(DomainError):
    code, status = "SESSION_NOT_FOUND", 404

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} not found")
        self.session_id = session_id


class ArtifactNotFound(DomainError):
    code, status = "ARTIFACT_NOT_FOUND", 404

    def __init__(self, artifact_id: str) -> None:
        super().__init__(f"artifact {artifact_id} not found")


class InvalidTransition(DomainError):
    code, status = "INVALID_TRANSITION", 409

    def __init__(self, *, current: str, target: str) -> None:
        super().__init__(f"cannot move from '{current}' to '{target}'", field="status")
        self.current = current
        self.target = target

    def details(self) -> dict[str, object]:
        return {"field": "status", "from": self.current, "to": self.target}


class SessionEnded(DomainError):
    code, status = "SESSION_ENDED", 410

    def __init__(self, session_id: str, actual_status: str = "ended") -> None:
        super().__init__(f"session {session_id} has ended")
        self.actual_status = actual_status


class InvalidChannel(DomainError):
    """A channel the session does not declare (on the connect URL, in `join` or `subscribe`)."""

    code, status = "INVALID_CHANNEL", 400

    def __init__(self, channel: str, declared: list[str], field: str = "channel") -> None:
        offered = ", ".join(declared) if declared else "none"
        super().__init__(f"channel {channel!r} is not one of this session's channels ({offered})", field=field)


class SessionFull(DomainError):
    code, status = "SESSION_FULL", 429

    def __init__(self, session_id: str, max_listeners: int) -> None:
        super().__init__(f"session {session_id} is full ({max_listeners} listeners)")
        self.retry_after_seconds = full_retry_after_seconds(max_listeners)


# A seat frees only when a listener leaves, and everyone refused retries: the larger the session, the more wait,
# so the refusal's Retry-After spreads their retries over the time API Gateway takes to admit as many new
# connections as the session has seats (500 a second per account and Region by default): 10 s to 5 minutes. The
# floor is where both clients' own full-session schedule starts: a small session full of ghost seats after a crash
# frees them within seconds (the join's ghost repair), and its listeners should not wait longer than they would.
FULL_RETRY_AFTER_MIN_SECONDS = 10
FULL_RETRY_AFTER_MAX_SECONDS = 300
CONNECTS_PER_SECOND = 500


def full_retry_after_seconds(max_listeners: int) -> int:
    """The `Retry-After` of a full session's refusal, sized to the session."""
    spread = -(-max_listeners // CONNECTS_PER_SECOND)
    return max(FULL_RETRY_AFTER_MIN_SECONDS, min(FULL_RETRY_AFTER_MAX_SECONDS, spread))


class IdempotencyKeyReused(DomainError):
    code, status = "IDEMPOTENCY_KEY_REUSED", 422

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used with a different request body", field="Idempotency-Key")


class RateLimited(DomainError):
    """DynamoDB throttled a request past botocore's own retries (or a transaction part was throttled), or a
    connection spent its action budget (session_runtime/budget.py: then `retryAfterMs` says how long)."""

    code, status = "RATE_LIMITED", 429

    def __init__(self, retry_after_ms: int | None = None) -> None:
        super().__init__("too many requests; retry shortly")
        self.retry_after_ms = retry_after_ms

    def details(self) -> dict[str, object]:
        return {} if self.retry_after_ms is None else {"retryAfterMs": self.retry_after_ms}


class ServiceUnavailable(DomainError):
    """A service the request needs did not answer within its client's timeouts and retry
    (session_runtime/timeouts.py): transient, so 503 and the client retries."""

    code, status = "SERVICE_UNAVAILABLE", 503

    def __init__(self) -> None:
        super().__init__("a service this request needs did not answer in time; retry shortly")


class ConcurrentUpdate(DomainError):
    """The record kept changing under a conditional write, past the store's bounded retries."""

    code, status = "CONFLICT", 409

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} kept changing under this update; retry")


class SessionIdExhausted(DomainError):
    """Every generated ID collided: only plausible when the ID space is nearly full."""

    code, status = "INTERNAL_ERROR", 500


class SessionPaused(DomainError):
    """A live-only operation (a broadcast) on a paused session."""

    code, status = "SESSION_PAUSED", 409

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} is paused; resume it first")


class SessionMuted(DomainError):
    """A live-only operation (a broadcast) on a muted session."""

    code, status = "SESSION_MUTED", 409

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id} is muted; unmute it first")


class ConnectionNotFound(DomainError):
    """The frame came on a connection the table does not know (already removed): the client reconnects."""

    code, status = "CONNECTION_NOT_FOUND", 404

    def __init__(self) -> None:
        super().__init__("this connection is not registered to a session; reconnect")


class InvalidAction(DomainError):
    code, status = "INVALID_ACTION", 400

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}; valid actions: {', '.join(WS_ACTIONS)}", field="action")

    def details(self) -> dict[str, object]:
        return {"field": "action", "validActions": list(WS_ACTIONS)}


class CorruptRecord(Exception):
    """An item no reader can make sense of. Logged with its key; never shown to a caller."""
