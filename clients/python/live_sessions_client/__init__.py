"""The Python client of the live-sessions API: `LiveSession` (WebSocket) and `HttpApi` (HTTP), the twin of the
TypeScript client in clients/js (same names in snake_case, same rules: clients/PROTOCOL_NOTES.md)."""

from typing import Any

from ._deprecated import (
    DEPRECATED_ALIASES,
    SessionClient,
    StreamOrder,
    backoff_delays,
    connect,
    deprecated,
    session_url,
)
from .artifacts import Artifacts
from .backoff import BackoffOptions, backoff_delay
from .channels import ChannelTrack, PublishAnswer, PublishedItem, PublishEvent, is_channel_event
from .client import (
    ConnectionState,
    LiveSession,
    ResetEvent,
    StateChange,
    StreamPosition,
    connect_url,
)
from .errors import (
    FATAL_REFUSALS,
    FATAL_STATUSES,
    ActionError,
    ClosedError,
    DisconnectedError,
    FrameTooLargeError,
    HttpError,
    LiveSessionError,
    OutcomeUnknownError,
    RefusedError,
    TimeoutError,
    ValidationError,
)
from .http import EventsPage, HttpApi, TokenSource
from .presence import (
    NAME_MAX_CHARS,
    PRESENCE_DATA_MAX_BYTES,
    REACTION_EMOJI_MAX_CHARS,
    REACTION_MAX_CHARS,
    check_name,
    check_presence_data,
    check_reaction,
)
from .protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    STREAM_TYPES,
    BroadcastEvent,
    BroadcastSentEvent,
    ChannelCount,
    ChannelStreamPosition,
    ErrorEvent,
    HistoryEvent,
    JoinedEvent,
    KickedEvent,
    ListenerCountEvent,
    MessageEvent,
    PongEvent,
    PresenceChangedEvent,
    PresenceEvent,
    PresenceMember,
    PresenceSetEvent,
    ReactedEvent,
    ReactionsEvent,
    ServerEvent,
    SessionEndedEvent,
    SessionUpdatedEvent,
    SessionView,
    SpeakerDisconnectedEvent,
    StreamEvent,
    SubscribedEvent,
)
from .stream import PushResult, StreamOrderer, StreamStats

__version__ = "0.3.0"  # the package's version (pyproject.toml reads it); the TypeScript client's is the same


def __getattr__(name: str) -> Any:
    """Renamed classes: the old name still works, with a DeprecationWarning."""
    if name in DEPRECATED_ALIASES:
        new = DEPRECATED_ALIASES[name]
        deprecated(name, new)
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "__version__",
    "FATAL_REFUSALS",
    "FATAL_STATUSES",
    "MAX_FRAME_BYTES",
    "NAME_MAX_CHARS",
    "PRESENCE_DATA_MAX_BYTES",
    "PROTOCOL_VERSION",
    "REACTION_EMOJI_MAX_CHARS",
    "REACTION_MAX_CHARS",
    "STREAM_TYPES",
    "ActionError",
    "Artifacts",
    "BackoffOptions",
    "BroadcastEvent",
    "BroadcastSentEvent",
    "ChannelCount",
    "ChannelStreamPosition",
    "ChannelTrack",
    "ClosedError",
    "ConnectionState",
    "DisconnectedError",
    "ErrorEvent",
    "EventsPage",
    "FrameTooLargeError",
    "HistoryEvent",
    "HttpApi",
    "HttpError",
    "JoinedEvent",
    "KickedEvent",
    "ListenerCountEvent",
    "LiveSession",
    "LiveSessionError",
    "MessageEvent",
    "OutcomeUnknownError",
    "PongEvent",
    "PresenceChangedEvent",
    "PresenceEvent",
    "PresenceMember",
    "PresenceSetEvent",
    "PublishAnswer",
    "PublishEvent",
    "PublishedItem",
    "PushResult",
    "ReactedEvent",
    "ReactionsEvent",
    "RefusedError",
    "ResetEvent",
    "ServerEvent",
    "SessionEndedEvent",
    "SessionUpdatedEvent",
    "SessionView",
    "SpeakerDisconnectedEvent",
    "StateChange",
    "StreamEvent",
    "StreamOrderer",
    "StreamPosition",
    "StreamStats",
    "SubscribedEvent",
    "TimeoutError",
    "TokenSource",
    "ValidationError",
    "backoff_delay",
    "check_name",
    "check_presence_data",
    "check_reaction",
    "connect_url",
    "is_channel_event",
    # deprecated, for one version
    "SessionClient",
    "StreamOrder",
    "backoff_delays",
    "connect",
    "session_url",
]
