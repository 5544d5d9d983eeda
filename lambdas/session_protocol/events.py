"""Every message the server sends to WebSocket clients, in one vocabulary: one pydantic model per `type`.

Clients switch on `type`. Each builder here validates its event against its model and returns the JSON
object to send, so the models are the only spelling of each shape: `/asyncapi.json` is generated from
them (session_protocol/asyncapi.py), and an event that drifts from its model fails where it is built.
A field typed `X | SkipJsonSchema[None]` is optional: omitted from the event when the builder leaves it
out (never sent as null), and documented as not required.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.json_schema import SkipJsonSchema

from session_schema.models import Artifact, ChannelName, Epoch, Message, Role, Session
from session_schema.views import ArtifactGlimpse, ArtifactPublicView, MessageView, SessionPublicView

from . import versions


def _documented_as_sent(schema: dict[str, Any]) -> None:
    """The JSON schema of what is sent: `type` is always there; an optional field has no `null` default
    (it is left out, never sent as null)."""
    schema["required"] = ["type", *(name for name in schema.get("required", []) if name != "type")]
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]


# The seq a stream event carries (the shared protocol: gap-free per session, from 1).
StreamSeq = Annotated[int, Field(ge=1, description="its place in the session's stream: gap-free per session")]


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, json_schema_extra=_documented_as_sent)
    type: str
    # A direct answer echoes the client `id` of the action it answers (connection_handler.responses adds it).
    id: str | SkipJsonSchema[None] = Field(None, description="the client `id` of the action this answers, if any")
    # True: pushed because the session changed, to every connection concerned; False: sent to one
    # connection only (an action's answer, or a notice about its connection).
    stream: ClassVar[bool] = False
    # The protocol version that introduced this kind (session_protocol/versions.py): never sent to a connection
    # that declared an older one.
    since: ClassVar[int] = versions.FIRST

    def dump(self) -> dict[str, Any]:
        """The JSON object sent: `type` first, optional fields only when given."""
        body = self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude={"type"})
        return {"type": self.type, **body}


class ChannelPosition(BaseModel):
    """Where a channel's own stream is: the seq of its latest event (0 before any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: ChannelName
    seq: int = Field(ge=0)


class JoinedEvent(Event):
    """The answer to `join`: who this connection is, and the session as anyone may see it."""

    type: Literal["joined"] = "joined"
    role: Role
    session: SessionPublicView
    connectionId: str
    channelStream: ChannelPosition | SkipJsonSchema[None] = Field(
        None,
        description="present when the connection is on a channel: that channel's stream as of this answer (its own "
        "gap-free seqs, beside `session.seq` of the session-wide stream)",
    )
    recovered: bool | SkipJsonSchema[None] = Field(
        None,
        description=(
            "present when the join gave `sinceSeq`: true, every kept stream event after it follows on this "
            "connection in seq order; false, they cannot be replayed, so reset from `session` (its `seq` is the "
            "new baseline)"
        ),
    )
    missing: list[StreamSeq] | SkipJsonSchema[None] = Field(
        None,
        description=(
            "present when `recovered` is true and some seqs after `sinceSeq` will never come (claimed by older "
            "server code that died before keeping the event, and proven lost for good): skip them, do not wait. "
            "Only to a connection that declared protocol version 2 or later (`&v=2`); an older one is answered "
            "`recovered: false` instead"
        ),
        json_schema_extra={"x-protocol-version": versions.MISSING_SEQS},
    )


class PongEvent(Event):
    """The answer to `ping`."""

    type: Literal["pong"] = "pong"
    ts: int = Field(description="server time, epoch ms")


class BroadcastEvent(Event):
    """A speaker's broadcast, to every listener."""

    type: Literal["broadcast"] = "broadcast"
    stream = True
    data: JsonValue = Field(description="what the speaker sent (any JSON)")
    ts: int = Field(description="when the server sent it, epoch ms")
    seq: StreamSeq
    channel: ChannelName | SkipJsonSchema[None] = Field(
        None,
        description="present on a channel's event (to its listeners only): `seq` is then its place in that "
        "channel's own gap-free stream; absent, in the session's stream",
    )


class BroadcastSentEvent(Event):
    """The speaker's answer to `broadcast`: its sequence number and how many listeners it reached."""

    type: Literal["broadcastSent"] = "broadcastSent"
    seq: int = Field(ge=1, description="its place in its stream (the channel's, when `channel` is given)")
    ts: int
    delivered: int = Field(ge=0)
    channel: ChannelName | SkipJsonSchema[None] = Field(
        None, description="the channel whose stream it went to; absent: the session's stream"
    )


class SubscribedEvent(Event):
    """The answer to `subscribe` (a `join` that names a channel answers `joined` with `channelStream`); also pushed
    when the session stopped offering the connection's channel (`channel: null`). From this answer on the
    connection gets every event of `channel` after `seq`, and no fan-out of its old channel that starts later
    reads it (one that read the connections just before the switch may still deliver: clients drop events of a
    channel they are no longer on)."""

    type: Literal["subscribed"] = "subscribed"
    channel: ChannelName | None = Field(description="the connection's channel now; null: none")
    seq: int = Field(ge=0, description="the channel stream's position as of the switch (0 when `channel` is null)")
    epoch: Epoch = Field(description="the session's epoch (one for all its streams)")


class MessageEvent(MessageView, Event):
    """A stored message, to every connection (and the sender's answer to `sendMessage`)."""

    type: Literal["message"] = "message"
    stream = True
    seq: StreamSeq


class HistoryEvent(Event):
    """The answer to `history`: stored messages, oldest first."""

    type: Literal["history"] = "history"
    items: list[MessageView]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class SessionUpdatedEvent(Event):
    """The session's state changed (status, muted, title), to every connection."""

    type: Literal["sessionUpdated"] = "sessionUpdated"
    stream = True
    session: SessionPublicView
    seq: StreamSeq


class SessionEndedEvent(Event):
    """The session ended, to every connection; listeners are then disconnected."""

    type: Literal["sessionEnded"] = "sessionEnded"
    stream = True
    session: SessionPublicView
    seq: StreamSeq


class ListenerCountEvent(Event):
    """To the speaker, on each listener's join and leave."""

    type: Literal["listenerCount"] = "listenerCount"
    sessionId: str
    listenerCount: int = Field(ge=0)
    channels: dict[str, int] | SkipJsonSchema[None] = Field(
        None, description="when the session declares channels: the listeners of each, by name"
    )


class SpeakerDisconnectedEvent(Event):
    """To the listeners, when the speaker's connection went (the session goes on)."""

    type: Literal["speakerDisconnected"] = "speakerDisconnected"
    sessionId: str


class ArtifactUpdatedEvent(Event):
    """An artifact of the session changed (its status, its upload, its sharing), to every connection. Listeners
    get the public view of a shared artifact, and only `{artifactId, status, shared: false}` of an unshared one
    (that frame is the one kept for replays); the speaker gets the public view either way. Never a URL: a
    download is minted on request (`GET .../artifacts/{artifactId}/download`)."""

    type: Literal["artifactUpdated"] = "artifactUpdated"
    stream = True
    artifact: ArtifactPublicView | ArtifactGlimpse
    seq: StreamSeq


class PresenceMemberView(BaseModel):
    """A connection as presence shows it (`userId` only for a signed-in one; `name` and `data` when it gave them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    connectionId: str
    role: Role
    userId: str | SkipJsonSchema[None] = None
    name: str | SkipJsonSchema[None] = None
    channel: ChannelName | SkipJsonSchema[None] = None
    joinedAt: int = Field(description="when it connected, epoch ms")
    data: JsonValue | SkipJsonSchema[None] = Field(None, description="what it set with `setPresence` (JSON, <= 1 KB)")


class PresenceEvent(Event):
    """The answer to `presence`: one page of the session's members (of `channel` when asked) and their count."""

    type: Literal["presence"] = "presence"
    members: list[PresenceMemberView]
    count: int = Field(ge=0, description="the session's connections (the speaker's included), or the channel's")
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class PresenceChangedEvent(Event):
    """Who joined, left or changed their presence since the last notice, to the speaker (to everyone when the
    session's `presence` is `public`): at most one a second, the last one within 2 s of the last change. Past
    PRESENCE_MEMBERS_MAX connections the lists are left out: the counts only. Not a stream event (no `seq`)."""

    type: Literal["presenceChanged"] = "presenceChanged"
    since = versions.PRESENCE
    id: SkipJsonSchema[None] = None
    joined: list[PresenceMemberView] | SkipJsonSchema[None] = None
    left: list[str] | SkipJsonSchema[None] = Field(None, description="connection IDs")
    updated: list[PresenceMemberView] | SkipJsonSchema[None] = None
    count: int = Field(ge=0, description="the session's connections now (the speaker's included)")
    channels: dict[str, int] = Field(description="the listeners of each declared channel, by name")


class PresenceSetEvent(Event):
    """The answer to `setPresence`: the connection as presence now shows it."""

    type: Literal["presenceSet"] = "presenceSet"
    member: PresenceMemberView


class ReactionsEvent(Event):
    """Listeners' reactions, added up, to the speaker (to everyone when the session's `reactions` is `public`): at
    most one a second. Not a stream event (no `seq`)."""

    type: Literal["reactions"] = "reactions"
    since = versions.PRESENCE
    id: SkipJsonSchema[None] = None
    counts: dict[str, int] = Field(description="each reaction and how many times it was sent")
    from_: int = Field(alias="from", description="the earliest reaction counted, epoch ms")
    to: int = Field(description="when they were counted, epoch ms")


class ReactedEvent(Event):
    """The answer to a `react` that carried an `id` (one without is not answered)."""

    type: Literal["reacted"] = "reacted"
    reaction: str


class KickedEvent(Event):
    """To a listener the speaker removed, before its connection is closed; and the speaker's answer to `kick`."""

    type: Literal["kicked"] = "kicked"
    since = versions.PRESENCE
    sessionId: str
    connectionId: str = Field(description="the connection removed")
    banned: bool = Field(description="its user (or name) is kept out of the session for its duration")


# The codes an `error` event carries, and when. tests/ws checks every domain error's code is listed here
# or is one the WebSocket API never answers with.
ERROR_CODES: dict[str, str] = {
    "INVALID_ACTION": "the frame is not a JSON object naming a known action; `validActions` lists them",
    "VALIDATION_ERROR": "a field of the action is missing, unknown or ill-typed; `field` names it",
    "FORBIDDEN": "a speaker action from a listener, or from an owner connection another one replaced; a `join` whose"
    " `name` the session's speaker banned (`field`: `name`)",
    "SESSION_NOT_FOUND": "the session is gone (or, for `history` after its end, private to its owner)",
    "SESSION_ENDED": "the session has ended",
    "SESSION_PAUSED": "a broadcast while the session is paused (no `seq` is used up)",
    "SESSION_MUTED": "a broadcast while the session is muted (no `seq` is used up)",
    "INVALID_TRANSITION": "the status cannot move that way (e.g. `pause` twice); `from` and `to` name both",
    "INVALID_CHANNEL": "a channel the session does not declare; `field` names the input",
    "CONNECTION_NOT_FOUND": "this connection is no longer registered: reconnect",
    "CONFLICT": "the session kept changing under this action: retry",
    "RATE_LIMITED": "this connection sent more than its budget (`retryAfterMs` says when to retry), or the table"
    " throttled this action: retry shortly",
    "SERVICE_UNAVAILABLE": "the table did not answer in time: retry shortly",
    "INTERNAL_ERROR": "something failed on the server; nothing about the cause is disclosed",
}


class ErrorEvent(Event):
    """A refusal of the frame just sent (the answer to any action), or an unexpected failure."""

    type: Literal["error"] = "error"
    code: str = Field(json_schema_extra={"enum": list(ERROR_CODES)})
    message: str
    field: str | SkipJsonSchema[None] = Field(None, description="the input at fault, when there is one")
    validActions: list[str] | SkipJsonSchema[None] = Field(None, description="INVALID_ACTION: the actions")
    from_: str | SkipJsonSchema[None] = Field(None, alias="from", description="INVALID_TRANSITION: status found")
    to: str | SkipJsonSchema[None] = Field(None, description="INVALID_TRANSITION: status asked for")
    retryAfterMs: int | SkipJsonSchema[None] = Field(
        None, description="RATE_LIMITED by the connection's budget: milliseconds until the next frame is accepted"
    )


class BatchEvent(Event):
    """Several stream events for this connection from one publish or one recovery replay, in one frame of at most
    32 KB: each exactly as it would be sent alone, in seq order. Handle them one by one, as if each had come
    alone. Only to a connection that declared protocol version 2 or later (`&v=2`)."""

    type: Literal["batch"] = "batch"
    since = versions.BATCH
    id: SkipJsonSchema[None] = None  # never an answer: it echoes no client `id`
    events: list[BroadcastEvent | MessageEvent | SessionUpdatedEvent | SessionEndedEvent | ArtifactUpdatedEvent] = (
        Field(min_length=2, description="the events, in seq order")
    )


EVENT_MODELS: tuple[type[Event], ...] = (
    JoinedEvent,
    PongEvent,
    BroadcastEvent,
    BroadcastSentEvent,
    MessageEvent,
    HistoryEvent,
    SessionUpdatedEvent,
    SessionEndedEvent,
    ListenerCountEvent,
    SubscribedEvent,
    SpeakerDisconnectedEvent,
    ArtifactUpdatedEvent,
    ErrorEvent,
    BatchEvent,
    PresenceEvent,
    PresenceChangedEvent,
    PresenceSetEvent,
    ReactionsEvent,
    ReactedEvent,
    KickedEvent,
)
# The version that introduced each kind, by its `type`.
SINCE: dict[str, int] = {model.model_fields["type"].default: model.since for model in EVENT_MODELS}


def joined(
    role: Role,
    session: Session,
    connection_id: str,
    recovered: bool | None = None,
    missing: list[int] | None = None,
    channel_stream: tuple[str, int] | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"role": role, "session": session.public_view(), "connectionId": connection_id}
    if channel_stream is not None:
        fields["channelStream"] = {"channel": channel_stream[0], "seq": channel_stream[1]}
    if recovered is not None:
        fields["recovered"] = recovered
    if recovered and missing:
        fields["missing"] = missing
    return JoinedEvent.model_validate(fields).dump()


def pong(ts: int) -> dict[str, Any]:
    return PongEvent(ts=ts).dump()


def broadcast(data: Any, ts: int, seq: int, channel: str | None = None) -> dict[str, Any]:
    on_channel = {"channel": channel} if channel is not None else {}
    return BroadcastEvent.model_validate({"data": data, "ts": ts, "seq": seq, **on_channel}).dump()


def broadcast_sent(seq: int, ts: int, delivered: int, channel: str | None = None) -> dict[str, Any]:
    """The speaker's answer to a broadcast: its stream and sequence number, and how many listeners it reached."""
    on_channel = {"channel": channel} if channel is not None else {}
    return BroadcastSentEvent.model_validate({"seq": seq, "ts": ts, "delivered": delivered, **on_channel}).dump()


def subscribed(channel: str | None, seq: int, epoch: str) -> dict[str, Any]:
    return SubscribedEvent(channel=channel, seq=seq, epoch=epoch).dump()


def message(msg: Message) -> dict[str, Any]:
    """The `message` event of a stored message (`msg.seq`: the stream seq its store claimed)."""
    return MessageEvent.model_validate({**msg.view(), "seq": msg.seq}).dump()


def history(items: list[Message], next_cursor: str | None = None) -> dict[str, Any]:
    return HistoryEvent.model_validate({"items": [m.view() for m in items], "nextCursor": next_cursor}).dump()


def session_updated(session: Session, seq: int) -> dict[str, Any]:
    return SessionUpdatedEvent.model_validate({"session": session.public_view(), "seq": seq}).dump()


def session_ended(session: Session, seq: int) -> dict[str, Any]:
    return SessionEndedEvent.model_validate({"session": session.public_view(), "seq": seq}).dump()


def session_change(session: Session) -> list[dict[str, Any]]:
    """The stream events of a session's change, whose write claimed them up to `session.seq`: `sessionUpdated`,
    and on an end `sessionEnded` after it (so an end's write claims two)."""
    if session.joinable:
        return [session_updated(session, session.seq)]
    before_end = session.model_copy(update={"seq": session.seq - 1})  # each event's view ends at its own seq
    return [session_updated(before_end, before_end.seq), session_ended(session, session.seq)]


def listener_count(session: Session) -> dict[str, Any]:
    channels = {"channels": {c.name: c.listenerCount for c in session.channelListeners}} if session.channels else {}
    counts = {"sessionId": session.sessionId, "listenerCount": session.listenerCount, **channels}
    return ListenerCountEvent.model_validate(counts).dump()


def speaker_disconnected(session_id: str) -> dict[str, Any]:
    return SpeakerDisconnectedEvent(sessionId=session_id).dump()


def artifact_updated(artifact: Artifact, seq: int) -> dict[str, Any]:
    """The frame listeners get (and the one kept in the stream): see ArtifactUpdatedEvent."""
    return ArtifactUpdatedEvent.model_validate({"artifact": artifact.listener_view(), "seq": seq}).dump()


def artifact_updated_for_speaker(artifact: Artifact, seq: int) -> dict[str, Any]:
    """The same change as the speaker sees it: the artifact's public view, shared or not (live only)."""
    return ArtifactUpdatedEvent.model_validate({"artifact": artifact.public_view(), "seq": seq}).dump()


def error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return ErrorEvent.model_validate({"code": code, "message": message, **details}).dump()


def presence(members: list[dict[str, Any]], count: int, next_cursor: str | None) -> dict[str, Any]:
    return PresenceEvent.model_validate({"members": members, "count": count, "nextCursor": next_cursor}).dump()


def presence_changed(
    count: int,
    channels: dict[str, int],
    *,
    joined: list[dict[str, Any]] | None = None,
    left: list[str] | None = None,
    updated: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A presence notice; without the lists (None), the counts only."""
    lists = {"joined": joined, "left": left, "updated": updated}
    fields = {name: value for name, value in lists.items() if value is not None}
    return PresenceChangedEvent.model_validate({**fields, "count": count, "channels": channels}).dump()


def presence_set(member: dict[str, Any]) -> dict[str, Any]:
    return PresenceSetEvent.model_validate({"member": member}).dump()


def reactions(counts: dict[str, int], from_ms: int, to_ms: int) -> dict[str, Any]:
    return ReactionsEvent.model_validate({"counts": counts, "from": from_ms, "to": to_ms}).dump()


def reacted(reaction: str) -> dict[str, Any]:
    return ReactedEvent(reaction=reaction).dump()


def kicked(session_id: str, connection_id: str, banned: bool) -> dict[str, Any]:
    return KickedEvent(sessionId=session_id, connectionId=connection_id, banned=banned).dump()
