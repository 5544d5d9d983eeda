"""The Python client of the live-sessions WebSocket API (see client.py)."""

from .client import (
    FATAL_STATUSES,
    STREAM_TYPES,
    ActionError,
    Refused,
    SessionClient,
    StreamOrder,
    backoff_delays,
    connect,
    session_url,
)

__all__ = [
    "FATAL_STATUSES",
    "STREAM_TYPES",
    "ActionError",
    "Refused",
    "SessionClient",
    "StreamOrder",
    "backoff_delays",
    "connect",
    "session_url",
]
