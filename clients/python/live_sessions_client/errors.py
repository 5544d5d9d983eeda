"""Every failure the client reports is a LiveSessionError with the contract's `code`, and says whether trying
again can help (`retryable`). The twin of the TypeScript client's `errors.ts`."""

from __future__ import annotations

import builtins
from typing import Any

# Refusals that end a join for good: the session will not become joinable by waiting (400, 404, 410), or the
# speaker banned this user or name (403 FORBIDDEN, `kick {ban}`); a VALIDATION_ERROR is a connect URL the server
# cannot read (its `v`, a `name`), no better on a second try.
FATAL_REFUSALS: frozenset[str] = frozenset(
    {"INVALID_SESSION_ID", "VALIDATION_ERROR", "SESSION_NOT_FOUND", "SESSION_ENDED", "INVALID_CHANNEL", "FORBIDDEN"}
)
FATAL_STATUSES: frozenset[int] = frozenset({400, 403, 404, 410})
# Error codes of an action's answer that another try (on this or a new connection) may cure.
RETRYABLE_ACTION_ERRORS: frozenset[str] = frozenset({"RATE_LIMITED", "INTERNAL_ERROR", "CONNECTION_NOT_FOUND"})
# Actions that change nothing, so that sending one twice is harmless (`broadcast`, `sendMessage` are not).
SAFE_TO_REPEAT: frozenset[str] = frozenset({"join", "ping", "history"})


class LiveSessionError(Exception):
    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


class RefusedError(LiveSessionError):
    """The server refused the WebSocket handshake with an HTTP status and the contract's error body.
    400, 404 and 410 are final; so is 401 when the token provider has no fresh token; the rest are retried."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        final = status in FATAL_STATUSES or code in FATAL_REFUSALS
        shown = f"{message} (HTTP {status})" if status else message
        super().__init__(code, shown, (not final) if retryable is None else retryable)
        self.status = status
        self.retry_after = retry_after  # seconds, from a `Retry-After` header

    @classmethod
    def from_response(cls, status: int, body: bytes, retry_after: float | None = None) -> RefusedError:
        error = _error_body(body)
        code = error.get("code") if isinstance(error.get("code"), str) else f"HTTP_{status}"
        message = error.get("message") if isinstance(error.get("message"), str) else body.decode("utf-8", "replace")
        return cls(str(code), str(message) or f"the handshake was answered {status}", status, retry_after=retry_after)


class ActionError(LiveSessionError):
    """The server answered an action with an `error` frame (FORBIDDEN, SESSION_PAUSED, VALIDATION_ERROR, ...)."""

    def __init__(self, action: str, frame: dict[str, Any]) -> None:
        code = str(frame.get("code"))
        super().__init__(code, str(frame.get("message")), code in RETRYABLE_ACTION_ERRORS)
        self.action = action
        self.frame = frame
        self.field: str | None = frame["field"] if isinstance(frame.get("field"), str) else None


class HttpError(LiveSessionError):
    """An HTTP API call answered with an error (`{"error": {code, message, requestId}}`) or not at all
    (status 0)."""

    def __init__(
        self, code: str, message: str, status: int, request_id: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(code, message, status == 0 or status == 429 or status >= 500)
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after


class TimeoutError(LiveSessionError, builtins.TimeoutError):
    """No answer in time (an action, the handshake, or a keepalive ping). The TypeScript name; it is also the
    built-in TimeoutError, so `except TimeoutError` catches it either way."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__("TIMEOUT", f"{what}: no answer in {seconds:g} s", True)


class DisconnectedError(LiveSessionError):
    """The connection dropped after the action was sent and before its answer: whether it took effect is
    unknown (the client never sends it again by itself)."""

    def __init__(self, action: str) -> None:
        super().__init__("DISCONNECTED", f"the connection dropped before {action} was answered", True)


class OutcomeUnknownError(LiveSessionError):
    """API Gateway answered with its integration-error frame (`{"message": "Internal server error",
    "connectionId", "requestId"}`: a worker died or timed out). It names no action, so every action in flight
    fails with this at once; whether each took effect is unknown, and none is retried by the client."""

    def __init__(self, action: str, request_id: str | None) -> None:
        what = f"{action}: the server failed while it was in flight (requestId {request_id})"
        super().__init__("OUTCOME_UNKNOWN", what, action in SAFE_TO_REPEAT)
        self.action = action
        self.request_id = request_id


class FrameTooLargeError(LiveSessionError):
    """The encoded action is larger than API Gateway's WebSocket frame limit; it was not sent."""

    def __init__(self, action: str, size: int, limit: int) -> None:
        super().__init__("FRAME_TOO_LARGE", f"{action} is {size} bytes; API Gateway's frame limit is {limit}", False)
        self.size = size
        self.limit = limit


class ValidationError(LiveSessionError):
    """An argument the server would refuse, caught before anything is sent (VALIDATION_ERROR naming the field)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__("VALIDATION_ERROR", f"{field} {problem}", False)
        self.field = field


class ClosedError(LiveSessionError):
    """The client is closed (by `close()`, the session's end, or a final refusal)."""

    def __init__(self, why: str) -> None:
        super().__init__("CLOSED", why, False)


def _error_body(body: bytes) -> dict[str, Any]:
    """The contract's `{"error": {...}}`, or {} for anything else (a proxy's HTML page, nothing)."""
    import json

    try:
        error = json.loads(body or b"{}").get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}
