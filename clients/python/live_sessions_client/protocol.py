"""The WebSocket protocol as this client declares it: every action it sends, every frame it receives.

The twin of the TypeScript client's `protocol.ts`. The server's models are the source of truth
(`GET /asyncapi.json`, generated from them). Each message is one TypedDict below; `ACTIONS`, `EVENTS` and their
optional fields are read off those TypedDicts (not written twice), and tests/clients/test_python_protocol.py
compares them with the served document, so a rename or a new required field on either side fails `make test`.
"""

# No `from __future__ import annotations`: the TypedDicts' NotRequired must be read at run time.
import re
from typing import Any, Literal, NotRequired, TypedDict, get_args, get_type_hints

# Version 2 understands `batch` frames and `joined.missing`; 3 the pushed presence frames (`presenceChanged`,
# `reactions`, `kicked`). Declared on the connect URL as `&v=3`.
PROTOCOL_VERSION = 3
# What each version added, so a test can tell "the server does not document it yet" from "they disagree".
INTRODUCED_IN: dict[str, int] = {"batch": 2, "joined.missing": 2, "presenceChanged": 3, "reactions": 3, "kicked": 3}

# API Gateway refuses a WebSocket frame larger than this: checked before sending, never found out by a drop.
MAX_FRAME_BYTES = 32 * 1024

Role = Literal["speaker", "listener"]
SessionStatus = Literal["active", "paused", "ended"]
JsonValue = Any  # any JSON value: the app's `data`


class ChannelCount(TypedDict):
    """A channel of the session and how many listeners are on it."""

    name: str
    listenerCount: int


class SessionView(TypedDict):
    """`GET /sessions/{id}` and the `session` of `joined` / `sessionUpdated` / `sessionEnded`; the owner's
    view adds more (ownerId, sourceLanguage, updatedAt, ...)."""

    sessionId: str
    title: str
    status: SessionStatus
    listenerCount: int
    muted: bool
    createdAt: int
    seq: int  # the seq of the session's latest stream event (0 before any)
    epoch: str  # a saved `seq` means something only with the same epoch
    maxListeners: int
    channels: list[ChannelCount]  # the session's channels in declared order (`[]` when it declares none)


class MessageView(TypedDict):
    messageId: str
    sessionId: str
    text: str
    createdAt: int


class _Answer(TypedDict):
    """The answer to an action carries the action's `id` when the action had one."""

    id: NotRequired[str]


# -- stream events: pushed because the session changed; each carries the session's gap-free `seq` ------------


class BroadcastEvent(_Answer):
    type: Literal["broadcast"]
    data: JsonValue
    ts: int
    seq: int  # its place in the session's stream, or with `channel` in that channel's own stream
    channel: NotRequired[str]  # a channel's event (to its listeners only); absent: a session-wide one


class MessageEvent(_Answer):
    type: Literal["message"]
    messageId: str
    sessionId: str
    text: str
    createdAt: int
    seq: int


class SessionUpdatedEvent(_Answer):
    type: Literal["sessionUpdated"]
    session: SessionView
    seq: int


class SessionEndedEvent(_Answer):
    type: Literal["sessionEnded"]
    session: SessionView
    seq: int


class ArtifactUpdatedEvent(_Answer):
    type: Literal["artifactUpdated"]
    artifact: dict[str, Any]
    seq: int


StreamEvent = BroadcastEvent | MessageEvent | SessionUpdatedEvent | SessionEndedEvent | ArtifactUpdatedEvent

# -- per-connection frames: answers and notices, no stream seq ---------------------------------------------------


class ChannelStreamPosition(TypedDict):
    channel: str
    seq: int


class JoinedEvent(_Answer):
    type: Literal["joined"]
    role: Role
    session: SessionView
    connectionId: str
    recovered: NotRequired[bool]  # present when the join asked to resume: true when every missed event follows
    missing: NotRequired[list[int]]  # v2: seqs after `sinceSeq` that will never come (the server vouches)
    channelStream: NotRequired[ChannelStreamPosition]  # on a channel: its stream's position as of this answer


class SubscribedEvent(_Answer):
    """The answer to `subscribe` (also pushed with `channel` None when the session stopped offering the channel):
    from here on every event of `channel` after `seq`, none of the old channel's."""

    type: Literal["subscribed"]
    channel: str | None
    seq: int
    epoch: str


class PongEvent(_Answer):
    type: Literal["pong"]
    ts: int


class HistoryEvent(_Answer):
    type: Literal["history"]
    items: list[MessageView]
    nextCursor: str | None


class BroadcastSentEvent(_Answer):
    type: Literal["broadcastSent"]
    seq: int
    ts: int
    delivered: int
    channel: NotRequired[str]  # the channel whose stream it went to; absent: the session's


class ListenerCountEvent(_Answer):
    type: Literal["listenerCount"]
    sessionId: str
    listenerCount: int
    channels: NotRequired[dict[str, int]]  # when the session declares channels: the listeners of each


class SpeakerDisconnectedEvent(_Answer):
    type: Literal["speakerDisconnected"]
    sessionId: str


# The functional form: one field is spelled `from` (INVALID_TRANSITION), a Python keyword.
ErrorEvent = TypedDict(
    "ErrorEvent",
    {
        "type": Literal["error"],
        "code": str,
        "message": str,
        "id": NotRequired[str],
        "field": NotRequired[str],  # VALIDATION_ERROR: the field at fault
        "from": NotRequired[str],  # INVALID_TRANSITION: the state the session was in...
        "to": NotRequired[str],  # ...and the one asked for
        "retryAfterMs": NotRequired[int],  # RATE_LIMITED, SERVICE_UNAVAILABLE: when to try again
        "validActions": NotRequired[list[str]],  # INVALID_ACTION: what may be sent
    },
)


# -- presence, reactions, moderation (contract: "Presence and reactions"; checks in live_sessions_client.presence) --
# Not stream events: no `seq`, never replayed. The TypeScript client declares them in `presence.ts`.


class PresenceMember(TypedDict):
    """One connection as presence lists it (`userId` only for a signed-in connection)."""

    connectionId: str
    role: Role
    joinedAt: int
    userId: NotRequired[str]
    name: NotRequired[str]
    channel: NotRequired[str | None]  # absent (or None) on the session's main stream
    data: NotRequired[JsonValue]  # what it set with `set_presence`


class PresenceEvent(_Answer):
    """The answer to `presence`: one page of members, the count of all, the cursor of the next page."""

    type: Literal["presence"]
    members: list[PresenceMember]
    count: int
    nextCursor: str | None


class PresenceChangedEvent(TypedDict):
    """Who joined, left (connection IDs) or changed their data since the last notice, conflated (at most one a
    second; the state after the last change within 2 s); past PRESENCE_MEMBERS_MAX connections, counts only."""

    type: Literal["presenceChanged"]
    count: int  # the session's connections now (the speaker's included)
    channels: dict[str, int]  # the listeners of each declared channel, by name
    joined: NotRequired[list[PresenceMember]]
    left: NotRequired[list[str]]
    updated: NotRequired[list[PresenceMember]]


# The functional form: `from` is a Python keyword. Reactions added up since the last notice: each reaction and how
# many times it was sent, the earliest counted (`from`) and when they were counted (`to`), epoch ms.
ReactionsEvent = TypedDict(
    "ReactionsEvent", {"type": Literal["reactions"], "counts": dict[str, int], "from": int, "to": int}
)


class KickedEvent(_Answer):
    """To a listener the speaker removed (the server then closes it; the client does not reconnect), and the
    speaker's answer to `kick`."""

    type: Literal["kicked"]
    sessionId: str
    connectionId: str  # the connection removed
    banned: bool  # its user (or name) is also kept out of the session for its duration


class PresenceSetEvent(_Answer):
    """The answer to `setPresence`: this connection as presence now shows it."""

    type: Literal["presenceSet"]
    member: PresenceMember


class ReactedEvent(_Answer):
    """The answer to a `react` that carried an `id`."""

    type: Literal["reacted"]
    reaction: str


class BatchEvent(TypedDict):
    """v2: several events for this connection in one frame (a replay, a burst), each exactly as it would be
    alone, in seq order; the client unpacks it, so the app never sees a batch."""

    type: Literal["batch"]
    events: list[StreamEvent]


ServerEvent = (
    StreamEvent
    | JoinedEvent
    | PongEvent
    | HistoryEvent
    | BroadcastSentEvent
    | ListenerCountEvent
    | SubscribedEvent
    | SpeakerDisconnectedEvent
    | ErrorEvent
    | PresenceEvent
    | PresenceChangedEvent
    | ReactionsEvent
    | KickedEvent
    | PresenceSetEvent
    | ReactedEvent
)

# -- actions: client -> server --------------------------------------------------------------------------------


class _Action(TypedDict):
    id: NotRequired[str]


class JoinAction(_Action):
    action: Literal["join"]
    sinceSeq: NotRequired[int]
    epoch: NotRequired[str]
    channel: NotRequired[str | None]
    channelSinceSeq: NotRequired[int]
    name: NotRequired[str]  # a display name others see in presence (also on the connect URL)


class SubscribeAction(_Action):
    action: Literal["subscribe"]
    channel: str | None


class PingAction(_Action):
    action: Literal["ping"]


class HistoryAction(_Action):
    action: Literal["history"]
    since: NotRequired[int]
    limit: NotRequired[int]
    cursor: NotRequired[str]


class BroadcastAction(_Action):
    action: Literal["broadcast"]
    data: JsonValue
    channel: NotRequired[str]


class SendMessageAction(_Action):
    action: Literal["sendMessage"]
    text: str


class PauseAction(_Action):
    action: Literal["pause"]


class ResumeAction(_Action):
    action: Literal["resume"]


class MuteAction(_Action):
    action: Literal["mute"]


class UnmuteAction(_Action):
    action: Literal["unmute"]


class EndAction(_Action):
    action: Literal["end"]


class PresenceAction(_Action):
    action: Literal["presence"]
    channel: NotRequired[str | None]
    limit: NotRequired[int]
    cursor: NotRequired[str]


class SetPresenceAction(_Action):
    action: Literal["setPresence"]
    data: JsonValue


class ReactAction(_Action):
    action: Literal["react"]
    reaction: str


class KickAction(_Action):
    action: Literal["kick"]
    connectionId: str
    ban: NotRequired[bool]


# Frames (and fields, `join.name`) this client declares ahead of the server's document: each may be absent from
# `/asyncapi.json` until the server declares it, and is held to it from then on. None now: the server declares
# presence, reactions and `kick` (protocol version 3).
AHEAD_OF_SERVER: frozenset[str] = frozenset()

# The answer each action gets on success (an `error` frame otherwise).
ACTION_ANSWERS: dict[type[_Action], type[_Answer]] = {
    JoinAction: JoinedEvent,
    SubscribeAction: SubscribedEvent,
    PingAction: PongEvent,
    HistoryAction: HistoryEvent,
    BroadcastAction: BroadcastSentEvent,
    SendMessageAction: MessageEvent,
    PauseAction: SessionUpdatedEvent,
    ResumeAction: SessionUpdatedEvent,
    MuteAction: SessionUpdatedEvent,
    UnmuteAction: SessionUpdatedEvent,
    EndAction: SessionEndedEvent,
    PresenceAction: PresenceEvent,
    SetPresenceAction: PresenceSetEvent,
    ReactAction: ReactedEvent,
    KickAction: KickedEvent,
}
EVENT_TYPES: tuple[type[Any], ...] = (
    JoinedEvent,
    PongEvent,
    HistoryEvent,
    BroadcastSentEvent,
    BroadcastEvent,
    MessageEvent,
    SessionUpdatedEvent,
    SessionEndedEvent,
    ArtifactUpdatedEvent,
    ListenerCountEvent,
    SubscribedEvent,
    SpeakerDisconnectedEvent,
    ErrorEvent,
    BatchEvent,
    PresenceEvent,
    PresenceChangedEvent,
    ReactionsEvent,
    KickedEvent,
    PresenceSetEvent,
    ReactedEvent,
)
STREAM_EVENT_TYPES: tuple[type[Any], ...] = get_args(StreamEvent)


def _name(message: type[Any], discriminator: str) -> str:
    (literal,) = get_args(get_type_hints(message)[discriminator])
    return str(literal)


def _fields(message: type[Any], discriminator: str) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(message.__required_keys__), frozenset(message.__optional_keys__)


# -- the declared tables the drift test compares with the server's document -----------------------------------

# Every action -> (the fields it must carry, the fields it may carry).
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    _name(action, "action"): _fields(action, "action") for action in ACTION_ANSWERS
}
# Every frame the server sends -> (the fields this client relies on being there, the optional ones it knows).
EVENTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {_name(e, "type"): _fields(e, "type") for e in EVENT_TYPES}
# The answer type of each action.
ANSWER_OF: dict[str, str] = {_name(a, "action"): _name(e, "type") for a, e in ACTION_ANSWERS.items()}
# The public session view's fields this client reads (seq/epoch for resume, maxListeners for SESSION_FULL).
SESSION_VIEW_FIELDS: frozenset[str] = frozenset(SessionView.__required_keys__)
STREAM_TYPES: frozenset[str] = frozenset(_name(e, "type") for e in STREAM_EVENT_TYPES)

# A client request ID, as the server accepts it.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# A channel's name, as sessions declare them (the contract's "Channels").
CHANNEL_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
# `adjective-noun-NNN` (session_schema/ids.py).
SESSION_ID_PATTERN = re.compile(r"^[a-z]{3,8}-[a-z]{3,8}-[0-9]{3}$")


def is_stream_event(frame: dict[str, Any]) -> bool:
    """A frame that takes its place in the session's stream (and so goes through the StreamOrderer)."""
    return frame.get("type") in STREAM_TYPES and isinstance(frame.get("seq"), int)


def is_integration_error(frame: dict[str, Any]) -> bool:
    """API Gateway's own frame when the integration failed (a worker died, a timeout): no `type`, no `id`,
    so it cannot say which action it answers."""
    return "type" not in frame and frame.get("message") == "Internal server error" and "requestId" in frame
