"""Inbound frames: one strict pydantic model per action, each declared an action where it is defined
(`@ws_action`: who may send it, its answers, its read cost; see registry.py), and the one parser that turns a
body into one.

A frame that is not a JSON object naming a known action is INVALID_ACTION (the contract's "anything
else"); a known action with a missing, extra or ill-typed field is VALIDATION_ERROR naming the field.
Parsing never touches DynamoDB, so a bad frame costs nothing but this function.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
    field_validator,
)

from session_schema.errors import DomainError, InvalidAction, ValidationFailed
from session_schema.json_types import INTEGRAL
from session_schema.models import (
    EPOCH_MS_LIMIT,
    PRESENCE_DATA_MAX_BYTES,
    REACTION_EMOJI_MAX,
    REACTION_WORD_PATTERN,
    SEQ_MAX,
    ChannelName,
    ConnectionId,
    CursorToken,
    DisplayName,
    Epoch,
    EpochMs,
    MessageText,
)
from session_store.store import MAX_PAGE

from . import events
from .encoding import encode_payload
from .registry import ActionRegistry

FRAME_MAX_BYTES = 32 * 1024  # the API Gateway WebSocket frame limit: what a listener is sent must fit one
CHANNEL_NAME_MAX = 32  # the contract's longest channel name
# The bytes a `broadcast` event adds around its data at its largest: the biggest seq and time, and the
# `"channel"` member of the longest name (JSON escapes nothing in a name the channel pattern allows).
_CHANNEL_MEMBER_BYTES = len(b',"channel":""') + CHANNEL_NAME_MAX


def broadcast_size(data: JsonValue) -> int:
    """The encoded size of `data` as the `broadcast` event listeners get, at its largest."""
    largest = events.broadcast(data, ts=EPOCH_MS_LIMIT - 1, seq=SEQ_MAX)
    return len(encode_payload(largest)) + _CHANNEL_MEMBER_BYTES


def require_broadcast_fits(data: JsonValue) -> JsonValue:
    """`data` when its `broadcast` event fits one frame (so every listener can be sent it); ValueError otherwise,
    naming both sizes. The limit is on the event as sent, not on `data` alone: data of 32 KB would not fit."""
    size = broadcast_size(data)
    if size > FRAME_MAX_BYTES:
        raise ValueError(f"is {size} bytes once wrapped in its broadcast event; at most {FRAME_MAX_BYTES}")
    return data
HISTORY_DEFAULT_LIMIT = 50


CLIENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
_CLIENT_ID_RE = re.compile(CLIENT_ID_PATTERN)
ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]


# Every action the server takes, declared on its frame model below.
ACTIONS = ActionRegistry()
ws_action = ACTIONS.action


class Frame(BaseModel):
    # strict: "5" is not a number and 1 is not true; forbid: a misspelt field is an error, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # The client's tag for this request: echoed in its direct answer (an error too), never interpreted.
    id: ClientId | None = None


@ws_action(answers=(events.JoinedEvent,), reads=1)
class JoinFrame(Frame):
    """who this connection is, and the session's public view; idempotent"""

    action: Literal["join"]
    # Resume: the last stream seq this client saw, and the epoch it saw it in (both, or neither).
    sinceSeq: Annotated[int, Field(ge=0, le=SEQ_MAX), INTEGRAL] | None = None
    epoch: Epoch | None = None
    # The channel to be on (null: none; absent: stay where the connect URL put it), and with a resume, the last
    # seq seen of that channel's own stream.
    channel: ChannelName | None = None
    channelSinceSeq: Annotated[int, Field(ge=0, le=SEQ_MAX), INTEGRAL] | None = None
    name: DisplayName | None = None  # the display name presence shows (absent: keep the connect URL's, if any)

    @property
    def names_channel(self) -> bool:
        """Whether the frame says which channel to be on (`"channel": null` included)."""
        return "channel" in self.model_fields_set

    def channel_resume_point(self) -> int | None:
        """`channelSinceSeq` of a resuming join on a channel; VALIDATION_ERROR without its channel and resume."""
        if self.channelSinceSeq is None:
            return None
        if self.channel is None:
            raise ValidationFailed("channelSinceSeq", "is the position in a channel's stream: give `channel` too")
        if self.resume_point() is None:
            raise ValidationFailed("channelSinceSeq", "resumes with `sinceSeq` and `epoch`")
        return self.channelSinceSeq

    def resume_point(self) -> tuple[int, str] | None:
        """(sinceSeq, epoch) of a resuming join, None for a fresh one; VALIDATION_ERROR when only one is given."""
        if self.sinceSeq is None and self.epoch is None:
            return None
        if self.sinceSeq is None:
            raise ValidationFailed("sinceSeq", "is required with epoch")
        if self.epoch is None:
            raise ValidationFailed("epoch", "is required with sinceSeq (the epoch of the session you saw it in)")
        return self.sinceSeq, self.epoch


# Answers only the connection that asks (no table read of the session beyond the switch's transaction), so pushed
# `subscribed` frames reach only connections that chose a channel: no protocol version gates it.
@ws_action(answers=(events.SubscribedEvent,), reads=1)
class SubscribeFrame(Frame):
    """be on `channel` (a name the session declares, or null for none): its events from the answer on, and none
    of the old channel's"""

    action: Literal["subscribe"]
    channel: ChannelName | None


@ws_action(answers=(events.PongEvent,))
class PingFrame(Frame):
    """keep the connection alive (API Gateway drops one idle for 10 minutes)"""

    action: Literal["ping"]


@ws_action(answers=(events.BroadcastSentEvent,), speaker_only=True)
class BroadcastFrame(Frame):
    """send `data` (any JSON; its `broadcast` event at most 32 KB) to every listener, or to those of `channel`"""

    action: Literal["broadcast"]
    data: JsonValue
    channel: ChannelName | None = None  # only that channel's listeners, in its own stream; none: every listener

    @field_validator("data")
    @classmethod
    def _fits_a_frame(cls, value: JsonValue) -> JsonValue:
        return require_broadcast_fits(value)


@ws_action(answers=(events.MessageEvent,), speaker_only=True)
class SendMessageFrame(Frame):
    """store a message, then send it to every connection"""

    action: Literal["sendMessage"]
    text: MessageText


@ws_action(answers=(events.HistoryEvent,), reads=1)
class HistoryFrame(Frame):
    """stored messages, oldest first, created after `since` (epoch ms); paginated"""

    action: Literal["history"]
    since: Annotated[EpochMs, INTEGRAL] = 0  # ms: messages created strictly after
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE), INTEGRAL] = HISTORY_DEFAULT_LIMIT
    cursor: CursorToken | None = None


@ws_action(answers=(events.SessionUpdatedEvent,), speaker_only=True)
class PauseFrame(Frame):
    """status `active` -> `paused`"""

    action: Literal["pause"]


@ws_action(answers=(events.SessionUpdatedEvent,), speaker_only=True)
class ResumeFrame(Frame):
    """status `paused` -> `active`"""

    action: Literal["resume"]


@ws_action(answers=(events.SessionUpdatedEvent,), speaker_only=True)
class MuteFrame(Frame):
    """set `muted` (broadcasts are refused while muted)"""

    action: Literal["mute"]


@ws_action(answers=(events.SessionUpdatedEvent,), speaker_only=True)
class UnmuteFrame(Frame):
    """clear `muted`"""

    action: Literal["unmute"]


# Answered `sessionEnded`, after a pushed `sessionUpdated` with status `ended`.
@ws_action(answers=(events.SessionEndedEvent,), speaker_only=True)
class EndFrame(Frame):
    """end the session: everyone is told, the listeners are disconnected"""

    action: Literal["end"]


PRESENCE_PAGE_DEFAULT = 100


@ws_action(answers=(events.PresenceEvent,), reads=1)
class PresenceFrame(Frame):
    """the session's members (of `channel` when given), a page at a time, and their count: the speaker always,
    listeners when the session's `presence` is `public`"""

    action: Literal["presence"]
    channel: ChannelName | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE), INTEGRAL] = PRESENCE_PAGE_DEFAULT
    cursor: CursorToken | None = None


def presence_data_text(data: JsonValue) -> str:
    """`data` as the compact JSON text kept for it; ValueError past PRESENCE_DATA_MAX_BYTES."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    size = len(text.encode())
    if size > PRESENCE_DATA_MAX_BYTES:
        raise ValueError(f"is {size} bytes of JSON; at most {PRESENCE_DATA_MAX_BYTES}")
    return text


@ws_action(answers=(events.PresenceSetEvent,))
class SetPresenceFrame(Frame):
    """set this connection's presence `data` (any JSON up to 1 KB, such as {"hand": true}); null clears it"""

    action: Literal["setPresence"]
    data: JsonValue

    @field_validator("data")
    @classmethod
    def _fits(cls, value: JsonValue) -> JsonValue:
        presence_data_text(value)
        return value


_REACTION_WORD = re.compile(REACTION_WORD_PATTERN)
# What an emoji is made of: symbols, their modifiers (skin tones), combining marks (keycaps), the zero-width joiner
# and variation selectors; at least one symbol.
_EMOJI_PARTS = frozenset({"So", "Sk", "Mn", "Me"})
_JOINERS = frozenset({"\u200d", "\ufe0f", "\ufe0e"})


def is_reaction(value: str) -> bool:
    """An emoji (one short sequence of symbol characters) or 1 to 32 of [a-z0-9_:+-]."""
    if _REACTION_WORD.fullmatch(value):
        return True
    if not 1 <= len(value) <= REACTION_EMOJI_MAX:
        return False
    categories = [unicodedata.category(c) for c in value]
    parts_ok = all(cat in _EMOJI_PARTS or c in _JOINERS for c, cat in zip(value, categories, strict=True))
    return parts_ok and "So" in categories


@ws_action(answers=(events.ReactedEvent,))
class ReactFrame(Frame):
    """react (an emoji, or 1 to 32 of [a-z0-9_:+-]): added up and sent to the speaker at most once a second;
    answered only when the frame carries an `id` (one dropped, past the budget or throttled: RATE_LIMITED)"""

    action: Literal["react"]
    reaction: str

    @field_validator("reaction")
    @classmethod
    def _a_reaction(cls, value: str) -> str:
        if not is_reaction(value):
            raise ValueError("is an emoji or 1 to 32 of [a-z0-9_:+-]")
        return value


@ws_action(answers=(events.KickedEvent,), speaker_only=True)
class KickFrame(Frame):
    """remove a listener (told `kicked`, then closed); `ban` keeps its user, or its name, out for the session"""

    action: Literal["kick"]
    connectionId: ConnectionId
    ban: bool = False


def _constant(name: str) -> float:
    """`NaN`, `Infinity`, `-Infinity` (not JSON, but Python's parser takes them): read, then refused by field."""
    return float(name.replace("Infinity", "inf"))


def _non_finite_field(value: Any, path: tuple[str, ...] = ()) -> str | None:
    """The dotted path of the first NaN or infinite number in a parsed frame (`1e400` parses as inf), or None.
    No encoder may write them and `JSON.parse` rejects them, so they are refused before anything is stored."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".".join(path) or "frame"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite_field(item, (*path, str(key)))
        if found is not None:
            return found
    return None


def _body_text(body: str | None, is_base64: bool) -> str:
    if body is None:
        return ""
    if not is_base64:
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidAction("a frame is a UTF-8 JSON object") from None


class FrameRefused(Exception):
    """A frame that does not parse: the refusal, and the client `id` it carried (if a valid one) to echo."""

    def __init__(self, refusal: DomainError, client_id: str | None) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.client_id = client_id


def parse_frame(
    route_key: str, body: str | None, *, is_base64: bool = False, actions: ActionRegistry = ACTIONS
) -> Frame:
    """The frame of a message event, or FrameRefused (InvalidAction / ValidationFailed, and the `id` to echo);
    validated by the model its action declared in `actions`."""
    try:
        document = json.loads(_body_text(body, is_base64), parse_constant=_constant)
    except DomainError as refusal:
        raise FrameRefused(refusal, None) from None
    except (ValueError, RecursionError):
        raise FrameRefused(InvalidAction('a frame is a JSON object like {"action": "join"}'), None) from None
    if not isinstance(document, dict):
        raise FrameRefused(InvalidAction('a frame is a JSON object like {"action": "join"}'), None)
    try:
        return _parse_document(route_key, document, actions)
    except DomainError as refusal:
        raw_id = document.get("id")
        client_id = raw_id if isinstance(raw_id, str) and _CLIENT_ID_RE.fullmatch(raw_id) else None
        raise FrameRefused(refusal, client_id) from None


def _parse_document(route_key: str, document: dict[str, Any], actions: ActionRegistry) -> Frame:
    action = document.get("action")
    spec = actions.get(action) if isinstance(action, str) else None
    if spec is None:
        shown = repr(action)[:40] if action is not None else "missing"
        raise InvalidAction(f"action {shown} is not an action")
    if route_key != action:
        # API Gateway routes a known action to its own route; $default only ever sees the unknown ones.
        raise InvalidAction(f"action {action!r} arrived on route {route_key!r}")
    bad_number = _non_finite_field(document)
    if bad_number is not None:
        raise ValidationFailed(bad_number, "is not a finite number (NaN and Infinity are not JSON)")
    try:
        frame = spec.frame.model_validate(document)
    except ValidationError as error:
        raise _validation_failed(error) from None
    assert isinstance(frame, Frame)
    return frame


def _validation_failed(error: ValidationError) -> ValidationFailed:
    first = error.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"]]
    field = ".".join(location) or "frame"
    if first["type"] == "extra_forbidden":
        return ValidationFailed(field, "is not a field of this action")
    if first["type"] == "missing":
        return ValidationFailed(field, "is required")
    message = first["msg"].removeprefix("Value error, ")
    return ValidationFailed(field, message)
