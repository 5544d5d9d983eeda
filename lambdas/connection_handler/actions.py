"""The client actions: each takes the caller's connection record and its parsed frame, does its work
through the store and the fan-out, and returns the one event that answers the caller.

Which actions exist, who may send them and what answers them is declared once, on their frame models
(session_protocol/frames.py); each function here is bound to its action by `@DISPATCH.action(<frame>)`.
Who may do what is decided here, from the connection record's role (one GetItem per action; `ping`
needs none); a speaker action's write also holds only while the caller is the session's current
`speakerConnectionId` (the store's `speaker=` guard, in the same conditional write: no extra read), so
an owner tab another one replaced cannot act. What the other connections are told about a state change
or a message is the rule shared with the HTTP API (`session_runtime.stream`), sent to everyone but the
caller: the caller gets the same event as its answer (the route response), so it never receives it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_protocol import events, frames
from session_runtime import (
    channels,
    connection_lifecycle,
    metric_names,
    moderation,
    presence,
    reactions,
    stream,
    use_cases,
)
from session_runtime.fanout import Fanout
from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime
from session_schema.errors import (
    ConnectionNotFound,
    Forbidden,
    InvalidChannel,
    NotCurrentSpeaker,
    RateLimited,
    SessionNotFound,
    ValidationFailed,
)
from session_schema.models import Connection, Session
from session_schema.status import SessionStatus
from session_store.stream_log import Recovery
from session_store.throttle_retry import retry_throttled

from . import responses
from .dispatch import Answer, Dispatch


@dataclass(frozen=True)
class ConnectionCaller:
    connection: Connection

    @property
    def connection_id(self) -> str:
        return self.connection.connectionId

    @property
    def session_id(self) -> str:
        return self.connection.sessionId

    def others(self, runtime: Runtime) -> Fanout:
        """The fan-out to every connection of the session but this one."""
        return runtime.fanout.excluding(self.connection_id)


DISPATCH: Dispatch[ConnectionCaller] = Dispatch(frames.ACTIONS)


# ------------------------------------------------------------------ any connection


@DISPATCH.without_connection(frames.PingFrame)
def ping(runtime: Runtime, frame: frames.PingFrame) -> Answer:
    return events.pong(runtime.store.clock())  # no table read: keep-alives stay free


@DISPATCH.action(frames.JoinFrame)
def join(runtime: Runtime, caller: ConnectionCaller, frame: frames.JoinFrame) -> Answer | None:
    """`joined`; with `channel`, on that channel first; with `sinceSeq`, also what the connection missed (see
    `_recover`), of its channel's stream too with `channelSinceSeq`. A throttle is retried here, with the
    invocation's time (a join is idempotent; a replay repeated in part carries seqs the client drops): a join storm
    into one session keeps its partitions hot, and a client must see a slower `joined`, never RATE_LIMITED."""
    return retry_throttled(lambda: _join(runtime, caller, frame))


def _join(runtime: Runtime, caller: ConnectionCaller, frame: frames.JoinFrame) -> Answer | None:
    if frame.name is not None:  # first: a refused (banned) name leaves the connection as it was
        connection_lifecycle.set_name(runtime, caller.connection, frame.name)
    channel_since = frame.channel_resume_point()
    if frame.names_channel and frame.channel != caller.connection.channel:
        caller = ConnectionCaller(channels.subscribe(runtime, caller.connection, frame.channel)[0])
    resume = frame.resume_point()
    if resume is None:
        session = connection_lifecycle.join(runtime, caller.connection)
        position = channels.channel_stream(runtime, caller.connection)
        return events.joined(caller.connection.role, session, caller.connection_id, channel_stream=position)
    session = _recover(runtime, caller, *resume, frame.id, channel_since)
    connection_lifecycle.join(runtime, caller.connection, session)  # told, as for any join
    return None


@DISPATCH.action(frames.SubscribeFrame)
def subscribe(runtime: Runtime, caller: ConnectionCaller, frame: frames.SubscribeFrame) -> Answer:
    return channels.subscribe(runtime, caller.connection, frame.channel)[1]


def _recover(
    runtime: Runtime,
    caller: ConnectionCaller,
    since_seq: int,
    epoch: str,
    client_id: str | None,
    channel_since: int | None = None,
) -> Session:
    """`joined {recovered, missing, channelStream}`, then every kept stream event after `since_seq`, each as the
    frame it was when pushed, and with `channel_since` every kept event of its channel's stream after it, then live
    events: each stream's seqs strictly increasing (session_runtime/stream.py `resume` holds both streams).

    All of it is posted to the connection during this invocation, `joined` first, and the route response is
    empty: API Gateway sends a route response only after the invocation returns, so answering `joined` that
    way would put it after the events it announces. One Query per page of events.
    """
    role, connection_id = caller.connection.role, caller.connection_id

    def joined(session: Session, recovery: Recovery, channel: stream.ChannelReplay | None) -> Answer:
        recovered = recovery.recovered and (channel is None or channel.recovery.recovered)
        position = None if channel is None else (channel.channel, channel.head)
        answer = events.joined(
            role, session, connection_id, recovered=recovered, missing=recovery.missing, channel_stream=position
        )
        return responses.with_client_id(answer, client_id)

    session, replayed = stream.resume(
        runtime.store, runtime.fanout, caller.connection, since_seq, epoch, joined, channel_since
    )
    metrics.add_metric(name="RecoveredEvents", unit=MetricUnit.Count, value=max(replayed, 0))
    logger.info("join recovered", extra={"sinceSeq": since_seq, "events": replayed})
    return session


# An answer is one API Gateway WebSocket message (128 KB at most); the envelope and cursor need little.
HISTORY_ITEMS_MAX_BYTES = 120 * 1024


@DISPATCH.action(frames.HistoryFrame)
def history(runtime: Runtime, caller: ConnectionCaller, frame: frames.HistoryFrame) -> Answer:
    """The rule of `GET /sessions/{id}/messages`: anyone while joinable, the owner always.

    A speaker connection is the owner's (its $connect checked `ownerId`), so it reads with no session
    read. A listener's connection can outlive the session's end (its close failed, or crossed the
    frame): once ended, the conversation is the owner's private view and it is SESSION_NOT_FOUND.
    """
    if caller.connection.role != "speaker":
        session = runtime.store.get_session(caller.session_id, consistent=True)
        if not session.messages_readable_by(caller.connection.userId):
            raise SessionNotFound(caller.session_id)
    page = runtime.store.list_messages(
        caller.session_id, since=frame.since, limit=frame.limit, cursor=frame.cursor, max_bytes=HISTORY_ITEMS_MAX_BYTES
    )
    return events.history(page.items, page.next_cursor)


@DISPATCH.action(frames.PresenceFrame)
def presence_members(runtime: Runtime, caller: ConnectionCaller, frame: frames.PresenceFrame) -> Answer:
    """A page of members and the count (of `channel`): the speaker always, listeners when `presence` is public."""
    session = runtime.store.get_session(caller.session_id, consistent=True)
    if caller.connection.role != "speaker" and session.presence != "public":
        raise Forbidden("only the speaker may list who is here in this session")
    if not session.declares(frame.channel):
        raise InvalidChannel(str(frame.channel), session.channels)
    page = runtime.store.list_members(caller.session_id, limit=frame.limit, cursor=frame.cursor, channel=frame.channel)
    if frame.channel is not None:
        count = session.channelCounts.get(frame.channel, 0)
    else:
        count = session.listenerCount + (1 if session.speakerConnectionId is not None else 0)
    return events.presence([member.view() for member in page.items], count, page.next_cursor)


@DISPATCH.action(frames.SetPresenceFrame)
def set_presence(runtime: Runtime, caller: ConnectionCaller, frame: frames.SetPresenceFrame) -> Answer:
    """This connection's presence data (null clears it), told to the presence audience as an update."""
    text = None if frame.data is None else frames.presence_data_text(frame.data)
    member = runtime.store.update_member(caller.session_id, caller.connection_id, data=text)
    if member is None:
        raise ConnectionNotFound()
    session = runtime.store.get_session(caller.session_id)
    presence.changed(session, caller.connection_id, presence.UPDATED)
    return events.presence_set(member.view())


@DISPATCH.action(frames.ReactFrame)
def react(runtime: Runtime, caller: ConnectionCaller, frame: frames.ReactFrame) -> Answer | None:
    """Counted into the session's reactions (sent added up, at most once a second); answered only with an `id`.
    One DynamoDB throttled is dropped and counted as a reaction past the budget is: silently, or RATE_LIMITED to a
    frame with an `id` (its client asked for an answer, and retries that one)."""
    if caller.connection.role != "listener":
        raise Forbidden("only listeners react")
    if not reactions.react(runtime, caller.connection, frame.reaction):
        metrics.add_metric(name=metric_names.REACTIONS_DROPPED, unit=MetricUnit.Count, value=1)
        if frame.id is not None:
            raise RateLimited()
        return None
    return events.reacted(frame.reaction) if frame.id is not None else None


# ------------------------------------------------------------------ speaker only


@DISPATCH.action(frames.KickFrame)
def kick(runtime: Runtime, caller: ConnectionCaller, frame: frames.KickFrame) -> Answer:
    """Remove a listener: with `ban`, its user (or display name) kept out first, and its user's other connections
    (or another under its name) removed with it; each is told `kicked`, closed and unregistered at once (its leave
    told as any leave)."""
    session = runtime.store.get_session(caller.session_id, consistent=True)
    if session.speakerConnectionId != caller.connection_id:
        raise NotCurrentSpeaker()
    target = runtime.store.get_connection(frame.connectionId)
    if target is None or target.sessionId != caller.session_id or target.role != "listener":
        raise ValidationFailed("connectionId", "is not a listener connected to this session")
    also = moderation.ban(runtime, session, target) if frame.ban else []
    for removed in (target, *also):
        moderation.remove(runtime, removed, banned=frame.ban)
    return events.kicked(caller.session_id, target.connectionId, frame.ban)


@DISPATCH.action(frames.BroadcastFrame)
def broadcast(runtime: Runtime, caller: ConnectionCaller, frame: frames.BroadcastFrame) -> Answer:
    # Published only while the session is active and unmuted (judged at the head, held in the write): a paused or
    # muted session refuses the broadcast instead of leaving a gap in `seq`. Its event is kept by the write that
    # numbers it, before it is sent, so anyone who got it can resume after it. To a channel: in its own stream.
    if frame.channel is not None:
        return _broadcast_to_channel(runtime, caller, frame.channel, frame.data)
    published = use_cases.broadcast(runtime, caller.session_id, frame.data, caller.connection_id)
    # The dashboard's fan-out latency: from the event kept to the last listener's post answered.
    metrics.add_metric(name=metric_names.BROADCAST_FANOUT_MS, unit=MetricUnit.Milliseconds, value=published.tell_ms)
    metrics.add_metric(name=metric_names.BROADCASTS, unit=MetricUnit.Count, value=1)
    delivered = published.told.sent if published.told is not None else 0
    metrics.add_metric(name="BroadcastDeliveries", unit=MetricUnit.Count, value=delivered)
    return events.broadcast_sent(published.after.seq, published.result, delivered)


def _broadcast_to_channel(runtime: Runtime, caller: ConnectionCaller, channel: str, data: Any) -> Answer:
    """A broadcast to one channel's listeners, in that channel's own stream."""
    ts = runtime.store.clock()
    published = channels.publish_to_channel(
        runtime,
        caller.session_id,
        channel,
        lambda seq: [events.broadcast(data, ts, seq, channel)],
        speaker=caller.connection_id,
    )
    metrics.add_metric(name=metric_names.BROADCASTS, unit=MetricUnit.Count, value=1)
    return events.broadcast_sent(published.seq, ts, published.told.sent, channel)


@DISPATCH.action(frames.SendMessageFrame)
def send_message(runtime: Runtime, caller: ConnectionCaller, frame: frames.SendMessageFrame) -> Answer:
    sender = caller.connection.userId
    if sender is None:  # a speaker connection always carries its owner's ID; never trust one that does not
        raise Forbidden("only the session's owner may send messages")
    message = use_cases.post_message(
        runtime, caller.session_id, sender, frame.text, caller.others(runtime), speaker=caller.connection_id
    )
    return events.message(message)


def _answer(runtime: Runtime, caller: ConnectionCaller, session: Session) -> Answer:
    """Everyone else heard of the change through the shared rule (use_cases); the caller gets it as its answer
    (an end: `sessionUpdated` posted first, as everyone gets it, then `sessionEnded` as the answer)."""
    return stream.answer_caller(runtime.fanout, caller.connection_id, events.session_change(session))


def _change_status(target: SessionStatus) -> Callable[[Runtime, ConnectionCaller, frames.Frame], Answer]:
    def change(runtime: Runtime, caller: ConnectionCaller, frame: frames.Frame) -> Answer:
        _, after = use_cases.change_status(
            runtime, caller.session_id, target, caller.others(runtime), speaker=caller.connection_id
        )
        logger.info("session status changed", extra={"status": after.status.value})
        return _answer(runtime, caller, after)

    return change


def _set_muted(muted: bool) -> Callable[[Runtime, ConnectionCaller, frames.Frame], Answer]:
    def change(runtime: Runtime, caller: ConnectionCaller, frame: frames.Frame) -> Answer:
        before, after = use_cases.update_session(
            runtime, caller.session_id, caller.others(runtime), muted=muted, speaker=caller.connection_id
        )
        if before.seq == after.seq:  # muting a muted session is answered (its latest state), not announced again
            return events.session_updated(after, after.seq)
        return _answer(runtime, caller, after)

    return change


DISPATCH.action(frames.PauseFrame)(_change_status(SessionStatus.PAUSED))
DISPATCH.action(frames.ResumeFrame)(_change_status(SessionStatus.ACTIVE))
DISPATCH.action(frames.EndFrame)(_change_status(SessionStatus.ENDED))
DISPATCH.action(frames.MuteFrame)(_set_muted(True))
DISPATCH.action(frames.UnmuteFrame)(_set_muted(False))
DISPATCH.check_complete()


def perform(
    runtime: Runtime, connection_id: str, frame: frames.Frame, dispatch: Dispatch[ConnectionCaller] = DISPATCH
) -> Answer | None:
    """Run one parsed frame for the connection that sent it; raises DomainError for a refusal. None: the
    action has answered on the connection itself (a recovering `join`), so the route response is empty."""
    spec = dispatch.spec(frame)
    connectionless = dispatch.connectionless(spec.name)
    if connectionless is not None:
        return connectionless(runtime, frame)
    connection = runtime.store.get_connection(connection_id)
    if connection is None:
        raise ConnectionNotFound()
    logger.thread_safe_append_keys(sessionId=connection.sessionId, role=connection.role)
    if spec.speaker_only and connection.role != "speaker":
        raise Forbidden(f"only the speaker may {spec.name}")
    return dispatch.handler(spec.name)(runtime, ConnectionCaller(connection), frame)
