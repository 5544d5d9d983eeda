"""The client actions: each takes the caller's connection record and its parsed frame, does its work
through the store and the fan-out, and returns the one event that answers the caller.

Which actions exist, who may send them and what answers them is declared once, on their frame models
(session_protocol/frames.py); each function here is bound to its action by `@DISPATCH.action(<frame>)`.
Who may do what is decided here, from the connection record's role (one GetItem per action; `ping`
needs none); a speaker action's write also holds only while the caller is the session's current
`speakerConnectionId` (the store's `speaker=` guard, in the same conditional write: no extra read), so
an owner tab another one replaced cannot act. What the other connections are told about a state change
or a message is the rule shared with the HTTP API (`session_runtime.notify`), sent to everyone but the
caller: the caller gets the same event as its answer (the route response), so it never receives it twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from session_protocol import events, frames
from session_protocol.batch import Outgoing
from session_runtime import connection_lifecycle, metric_names, notify, presence, use_cases
from session_runtime.fanout import Fanout, is_listener
from session_runtime.observability import logger, metrics
from session_runtime.runtime import Runtime
from session_schema.errors import ConnectionNotFound, Forbidden, SessionNotFound
from session_schema.models import Connection, Session
from session_schema.status import SessionStatus

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
    """`joined`; with `sinceSeq`, also what the connection missed (see `_recover`)."""
    session = connection_lifecycle.join(runtime, caller.connection)
    resume = frame.resume_point()
    if resume is None:
        return events.joined(caller.connection.role, session, caller.connection_id)
    _recover(runtime, caller, session, *resume, frame.id)
    return None


def _recover(
    runtime: Runtime, caller: ConnectionCaller, session: Session, since_seq: int, epoch: str, client_id: str | None
) -> None:
    """`joined {recovered}`, then every kept stream event after `since_seq`, each as it was when pushed.

    All of it is posted to the connection during this invocation, `joined` first, and the route response is
    empty: API Gateway sends a route response only after the invocation returns, so answering `joined` that
    way would put it after the events it announces. Live events may still interleave (this connection is
    registered): clients put events in seq order and drop seq they have seen. One Query per page of events.
    """
    recovery = runtime.store.recover(session, since_seq, epoch)
    answer = events.joined(caller.connection.role, session, caller.connection_id, recovered=recovery.recovered)
    if not runtime.fanout.send_to(caller.connection_id, responses.with_client_id(answer, client_id)):
        return  # the connection is gone (and now unregistered)
    replayed = 0
    while True:
        # A page in as few frames as the connection's protocol version allows (`batch` from version 2).
        page = Outgoing.kept(event.frame.encode() for event in recovery.events)
        if not runtime.fanout.send_all_to(caller.connection_id, page, caller.connection.protocolVersion):
            return
        replayed += len(page)
        if recovery.next_since_seq is None:
            break
        recovery = runtime.store.recover(session, recovery.next_since_seq, epoch)
    metrics.add_metric(name="RecoveredEvents", unit=MetricUnit.Count, value=replayed)
    logger.info("join recovered", extra={"sinceSeq": since_seq, "recovered": recovery.recovered, "events": replayed})


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


# ------------------------------------------------------------------ speaker only


@DISPATCH.action(frames.BroadcastFrame)
def broadcast(runtime: Runtime, caller: ConnectionCaller, frame: frames.BroadcastFrame) -> Answer:
    # The sequence number is claimed only while the session is active and unmuted (one conditional
    # write): a paused or muted session refuses the broadcast instead of leaving a gap in `seq`. The event
    # is kept (one PutItem) before it is sent, so anyone who got it can resume after it.
    session = runtime.store.next_broadcast_seq(caller.session_id, live_only=True, speaker=caller.connection_id)
    ts = runtime.store.clock()
    pushed = events.broadcast(frame.data, ts, session.seq)
    notify.keep(runtime.store, caller.session_id, [pushed])
    started = time.perf_counter()
    result = presence.send(runtime.fanout, caller.session_id, pushed, only=is_listener, size=session.listenerCount)
    # The dashboard's fan-out latency: from the event kept to the last listener's post answered.
    elapsed_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric(name=metric_names.BROADCAST_FANOUT_MS, unit=MetricUnit.Milliseconds, value=elapsed_ms)
    metrics.add_metric(name=metric_names.BROADCASTS, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BroadcastDeliveries", unit=MetricUnit.Count, value=result.sent)
    return events.broadcast_sent(session.seq, ts, result.sent)


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
    told = events.session_change(session)
    for event in told[:-1]:
        runtime.fanout.send_to(caller.connection_id, event)
    return told[-1]


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
