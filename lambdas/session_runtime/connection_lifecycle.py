"""The connection lifecycle as use cases: connect, join, leave, and the seats of connections API Gateway no longer
has. The WebSocket handlers parse an event, call one of these and answer; the sweep (connection_sweep.py) uses
the same leave.

Throttled registrations and unregistrations are tried again within the invocation's time
(session_store/throttle_retry.py): a client sees a slower handshake, not a 429, and a `$disconnect`, which API
Gateway never retries, frees its seat now rather than at the sweep.

- connect: a token that is given must verify (401 UNAUTHORIZED otherwise: never a silent demotion); the owner's
  token registers the speaker, another user's or none a listener. A listener refused as full first frees the
  seats of the session's oldest listeners API Gateway no longer has, then tries once more.
- set_name: the display name a `join` gives, checked against the bans.
- join: the session is still joinable; whom it concerns hears the count (the speaker, of a listener joining; the
  speaker itself, at its own join: after its handshake, when a post can reach it).
- leave: unregister, then tell whom it concerns (presence.connection_left).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import ClientError

from session_schema.errors import SessionEnded, SessionFull
from session_schema.models import Connection, ConnectionEntry, Role, Session
from session_store.store import NotOwner
from session_store.throttle_retry import retry_throttled

from . import presence
from .observability import logger
from .runtime import Runtime

# A full session's join asks API Gateway about at most this many of its oldest listeners: a bounded cost
# for the one join that needs a seat (the sweep frees the rest).
GHOST_PROBES = 8


@dataclass(frozen=True)
class Handshake:
    """What a `$connect` carries: who connects, to which session, with which token (None: anonymous)."""

    connection_id: str
    session_id: str
    token: str | None
    connected_at: int | None  # API Gateway's requestContext.connectedAt (epoch ms), when it says
    protocol_version: int = 1  # the WebSocket protocol version the connect URL declared (session_protocol.versions)
    channel: str | None = None  # the channel the connect URL asks for (`&channel=`)
    name: str | None = None  # the display name the connect URL gives (`&name=`), shown by presence


def connect(runtime: Runtime, handshake: Handshake) -> Connection:
    """Register the connection as speaker or listener; raises the domain refusal otherwise."""
    user_id = runtime.verifier.verify(handshake.token).user_id if handshake.token else None
    if user_id is not None:
        speaker = _connection(runtime, handshake, "speaker", user_id)
        try:
            return retry_throttled(
                lambda: runtime.store.register_connection(speaker, owner_id=user_id, name=handshake.name)
            )
        except NotOwner:
            pass  # someone else's session: a signed-in listener
    listener = _connection(runtime, handshake, "listener", user_id)
    try:
        return retry_throttled(lambda: runtime.store.register_connection(listener, name=handshake.name))
    except SessionFull:
        if not free_ghost_seats(runtime, handshake.session_id):
            raise
        return retry_throttled(
            lambda: runtime.store.register_connection(listener, name=handshake.name)
        )  # once: a seat was just freed


def _connection(runtime: Runtime, handshake: Handshake, role: Role, user_id: str | None) -> Connection:
    now = runtime.store.clock()
    connected_at = handshake.connected_at
    return Connection(
        connectionId=handshake.connection_id,
        sessionId=handshake.session_id,
        role=role,
        userId=user_id,
        connectedAt=connected_at if isinstance(connected_at, int) and connected_at > 0 else now,
        expiresAt=now // 1000 + runtime.settings.connection_ttl_seconds,
        protocolVersion=handshake.protocol_version,
        channel=handshake.channel,
    )


def set_name(runtime: Runtime, connection: Connection, display_name: str) -> None:
    """The display name a `join` gives, shown by presence. A listener's is checked against the session's bans in the
    same write, as its registration checks the connect URL's (Banned, the connection left as it was)."""
    store = runtime.store
    if connection.role == "listener":
        store.name_listener(connection.sessionId, connection.connectionId, display_name)
    else:
        store.update_member(connection.sessionId, connection.connectionId, name=display_name)


def join(runtime: Runtime, connection: Connection, session: Session | None = None) -> Session:
    """The session the connection joins, still joinable (SessionEnded otherwise); a listener's join is a presence
    change, whose notice tells the speaker the count (conflated: session_runtime/conflation.py). `session`: already
    read (a resuming join reads it after holding its connection: session_runtime/stream.py `resume`)."""
    if session is None:
        session = runtime.store.get_session(connection.sessionId, consistent=True)
    if not session.joinable:
        raise SessionEnded(session.sessionId, session.status.value)
    if connection.role == "listener":
        # Not the speaker's own: a post now would reach it before its `joined`, which carries the count.
        presence.changed(session, connection.connectionId, presence.JOINED)
    return session


def leave(runtime: Runtime, connection_id: str) -> Connection | None:
    """A `$disconnect`: the connection unregistered and its leave told; None when it was already unregistered."""
    # Retried here: API Gateway never retries a `$disconnect`, and a seat left counted stays taken until the sweep.
    connection = retry_throttled(lambda: runtime.store.unregister_connection(connection_id))
    if connection is not None:
        presence.connection_left(runtime.fanout, connection)
    return connection


def remove(runtime: Runtime, connection: ConnectionEntry) -> bool:
    """A connection found gone, or half registered, by the sweep or a join: unregistered (whichever of its two
    items are left) and its leave told. False when someone else unregistered it first."""
    if runtime.store.unregister(connection) is None:
        return False
    presence.connection_left(runtime.fanout, connection)
    return True


def gone(runtime: Runtime, connection_id: str) -> bool | None:
    """Whether API Gateway no longer has the connection: True on 410, False when it answers, None when the
    question failed (asked again later)."""
    try:
        runtime.management.get_connection(ConnectionId=connection_id)
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410:
            return True
        logger.warning("could not ask API Gateway about a connection", extra={"awsCode": error.response["Error"]})
        return None
    except Exception:  # noqa: BLE001 - a timeout or a dropped connection: ask again next time
        logger.warning("could not ask API Gateway about a connection", exc_info=True)
        return None
    return False


def free_ghost_seats(runtime: Runtime, session_id: str) -> int:
    """Ask API Gateway about the session's oldest listeners (past their handshake: a 410 before `$connect` has
    returned says nothing) and unregister the gone ones: how many seats were freed."""
    past_handshake = runtime.store.clock() - runtime.settings.handshake_window_seconds * 1000
    candidates = runtime.store.oldest_listeners(session_id, GHOST_PROBES, registered_by=past_handshake)
    if not candidates:
        return 0
    with ThreadPoolExecutor(len(candidates), thread_name_prefix="ghost-seats") as pool:
        answers = list(pool.map(lambda c: gone(runtime, c.connectionId), candidates))
    freed = sum(1 for c, is_gone in zip(candidates, answers, strict=True) if is_gone and remove(runtime, c))
    logger.info("a full session's join looked for ghost seats", extra={"asked": len(candidates), "freed": freed})
    return freed
