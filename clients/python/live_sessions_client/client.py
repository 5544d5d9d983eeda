"""LiveSession: one listener's or speaker's connection to a live session, kept alive. The twin of the
TypeScript client's `client.ts` (same names, snake_case; the same rules: clients/PROTOCOL_NOTES.md).

    async with LiveSession(ws_url, session_id, token=token) as live:   # the owner's token: the speaker
        sent = await live.broadcast({"text": "hi"})   # actions return their answer, or raise (ActionError, ...)
        async for event in live:                       # pushed events; stream events once each, in seq order
            print(event)

- states: idle -> connecting -> connected <-> reconnecting -> closed (`on_state` says why and when next);
- every handshake failure is retried with capped, jittered backoff (honouring `Retry-After`; a full session's
  schedule runs toward minutes) except a final refusal: 400, 404, 410, and 401 when the token provider has no
  fresh token; the token (provider) is asked again before every handshake, the 2-hour renewal's included;
- ahead of API Gateway's 2-hour cap the next connection is opened and joined, then the old one is closed once
  the actions in flight on it are answered;
- a dropped connection (or an `error` CONNECTION_NOT_FOUND: the server lost it) is re-opened and joined with
  `sinceSeq` + `epoch`: the server replays what was missed (`recovered: true`, skipping the seqs it lists in
  `missing`), or says it cannot and the app gets a `reset` event with the current session view;
- a gap in the stream that does not fill within `gap_timeout` is asked for again the same way, on the same
  connection; `batch` frames are unpacked; the connect URL declares protocol version 3 (`&v=3`);
- every action carries an `id`; its answer (or `error`) settles that call; API Gateway's integration-error
  frame fails every call in flight with OutcomeUnknownError; nothing is ever sent twice by the client but its own
  `join`, which that frame has repeated on the same connection (JOIN_REPEATS times, after the usual backoff) before
  the connection is given up;
- anything unforeseen ends the client and is raised by the `async for`, never a silent stop;
- channels (channels.py): on one (`channel`, `subscribe()`), the client follows the channel's own stream beside the
  session's, in order and once each, and re-joins with both positions; `publish()` over HTTP.
- presence and reactions (live_sessions_client.presence): a display `name` on the connect URL and in `join`,
  `presence()` pages, `set_presence()`, `react()` (fire-and-forget, or confirmed), the speaker's `kick()`;
  `kicked` ends the client for good (no reconnect), as `sessionEnded` does.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import itertools
import json
import logging
import random as _random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, Literal, TypedDict, cast, overload
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import errors
from .backoff import BackoffOptions, reconnect_spread, renewal_delay, retry_delay
from .channels import ChannelTrack, PublishAnswer, PublishEvent, is_channel_event, publish_body
from .errors import (
    ActionError,
    ClosedError,
    DisconnectedError,
    FrameTooLargeError,
    LiveSessionError,
    OutcomeUnknownError,
    RefusedError,
)
from .http import HttpApi, TokenSource, resolve_token, retry_after_seconds
from .presence import check_name, check_presence_data, check_reaction, presence_fields, presence_pages
from .protocol import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    BroadcastSentEvent,
    HistoryEvent,
    JoinedEvent,
    KickedEvent,
    MessageEvent,
    PongEvent,
    PresenceEvent,
    PresenceSetEvent,
    ReactedEvent,
    Role,
    SessionEndedEvent,
    SessionUpdatedEvent,
    SessionView,
    SubscribedEvent,
    is_integration_error,
    is_stream_event,
)
from .stream import StreamOrderer, StreamStats

logger = logging.getLogger("live_sessions_client")

API_GATEWAY_MAX_CONNECTION_SECONDS = 7200
# While the session is full, a seat frees when a listener leaves: minutes, not the seconds of a transient fault.
FULL_BACKOFF = BackoffOptions(initial=10.0, max=300.0)
# A `join` answered with API Gateway's integration-error frame (the connection function was throttled or failed) is
# sent again on the same connection, after the usual backoff, this many times before the connection is given up:
# `$connect` already took this connection's seat, so a reconnect would hold a second one until the first one's
# `$disconnect` (itself often lost in a storm) frees it. The server's join is idempotent. The twin of client.ts's.
JOIN_REPEATS = 3
ConnectionState = Literal["idle", "connecting", "connected", "reconnecting", "closed"]
# Why calls still in flight fail when the client closes for a reason of the session's, not the app's.
_CLOSED_BECAUSE = {"ended": "the session ended", "kicked": "the speaker removed this connection from the session"}
_END = object()


@dataclass(frozen=True)
class StateChange:
    state: ConnectionState
    previous: ConnectionState
    attempt: int  # consecutive failed attempts so far (0 once connected)
    retry_in: float | None = None  # while reconnecting: seconds until the next attempt
    error: BaseException | None = None  # why the last attempt failed, or why the client closed
    reason: str | None = None  # when closed: "client" (close()), "ended" (sessionEnded), "kicked", or the error's code


class ResetEvent(TypedDict):
    """Given to the app in the event stream: the server could not replay what this client missed (or the
    stream's epoch changed): rebuild the app's view from `session`."""

    type: Literal["reset"]
    session: SessionView
    reason: Literal["notRecovered", "epochChanged"]


@dataclass(frozen=True)
class StreamPosition:
    """A position in a session's stream that a later client can resume from; on a channel, also the channel and
    the position in its own stream."""

    seq: int
    epoch: str
    channel: str | None = None
    channel_seq: int | None = None


@dataclass
class _Pending:
    action: str
    future: asyncio.Future[dict[str, Any]]
    ws: ClientConnection


@dataclass
class _Link:
    """One socket and what runs for it."""

    ws: ClientConnection
    dropped: asyncio.Future[tuple[int, str]]
    opened_at: float = field(default_factory=time.monotonic)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    reader: asyncio.Task[Any] | None = None


def connect_url(
    ws_url: str,
    session_id: str,
    token: str | None = None,
    version: int = PROTOCOL_VERSION,
    channel: str | None = None,
    name: str | None = None,
) -> str:
    """The connect URL: `?sessionId=<id>[&token=<JWT>][&name=<display name>]&v=<protocol version>[&channel=<name>]`,
    after any query `ws_url` has."""
    parts = urlsplit(ws_url)
    query: dict[str, str] = {"sessionId": session_id}
    if token:
        query["token"] = token
    if name is not None:
        query["name"] = name
    query["v"] = str(version)
    if channel is not None:
        query["channel"] = channel
    extra = "&".join(p for p in (parts.query, urlencode(query)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", extra, ""))


class LiveSession:
    def __init__(
        self,
        ws_url: str,
        session_id: str,
        *,
        token: TokenSource = None,
        name: str | None = None,
        http_url: str | None = None,
        resume: StreamPosition | None = None,
        channel: str | None = None,
        keepalive: float | None = 240.0,
        pong_timeout: float = 20.0,
        request_timeout: float = 30.0,
        open_timeout: float = 15.0,
        backoff: BackoffOptions | None = None,
        full_backoff: BackoffOptions | None = None,
        max_attempts: int | None = None,
        gap_timeout: float = 1.0,
        max_buffered: int = 256,
        renew_after: float | None = API_GATEWAY_MAX_CONNECTION_SECONDS - 300,
        on_state: Callable[[StateChange], None] | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        """`token`: the session owner's joins as the speaker, none (or anyone else's) as a listener; a string, or
        a function (plain or async) asked for a fresh one before every handshake. `name`: a display name (1 to 64
        characters, no control character) others see in presence, sent on the connect URL and in every `join`
        (an invalid one raises ValidationError here). `http_url`: the HTTP API's
        URL, for `api` (create, get, end, events, publish). `resume`: a `position` a previous client saved.
        `channel`: the channel to be on from the handshake (`&channel=`; default: the `resume` position's, else
        none); one the session does not declare is refused INVALID_CHANNEL.
        `keepalive`: a `ping` this often (API Gateway closes a connection idle for 10 minutes; its own
        ping/pong control frames do not count). `backoff`: the retry schedule of a failed handshake or a drop;
        `full_backoff` the one while the session is full (SESSION_FULL; default 10 s doubling up to 5 minutes),
        both never sooner than a `Retry-After`; after a drop, the first retry also waits a random part of the time
        the session's listeners take to reconnect (backoff.reconnect_spread). `renew_after`: a new connection is
        opened (with a fresh token) this long after this one, less up to a fifth at random (joiners of one moment
        renew apart), before API Gateway's 2-hour cap (default 1 h 55 min). `max_attempts`:
        consecutive failed attempts before giving up (default: never give up on a retryable failure)."""
        self.ws_url = ws_url
        self.session_id = session_id
        self.api = HttpApi(http_url, token) if http_url else None
        self._token = token
        self.name = None if name is None else check_name(name)
        self._keepalive = keepalive
        self._pong_timeout = pong_timeout
        self._request_timeout = request_timeout
        self._open_timeout = open_timeout
        self._backoff = backoff or BackoffOptions()
        self._full_backoff = full_backoff or FULL_BACKOFF
        self._max_attempts = max_attempts
        self._gap_timeout = gap_timeout
        self._renew_after = renew_after
        self._on_state = on_state
        self._random = random

        self._orderer: StreamOrderer[dict[str, Any]] = StreamOrderer(self._deliver, max_buffered)
        self._epoch: str | None = None
        if resume is not None:
            self._orderer.last, self._epoch = resume.seq, resume.epoch
        on = channel if channel is not None else (resume.channel if resume else None)
        channel_seq = resume.channel_seq if resume is not None and resume.channel == on else None
        self._track = ChannelTrack(self._deliver, max_buffered, on, channel_seq)
        self._state: ConnectionState = "idle"
        self._link: _Link | None = None
        self._view: SessionView | None = None
        self.joined: JoinedEvent | None = None  # the latest `joined` answer
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(3) + "-"
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._failure: BaseException | None = None
        self._ever_joined = False
        self._first_join: asyncio.Future[JoinedEvent] | None = None
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._gap_task: asyncio.Task[None] | None = None
        # Both streams' `last` when a gap was last asked for: no progress since means skip it.
        self._gap_tried_at: tuple[int | None, int | None] | None = None
        self._refused_token: str | None = None  # the token a 401 refused: the provider must give another one
        self._connect_url = ""
        self.reconnects = 0
        self.renewals = 0
        self.resets = 0

    # -- what the app reads -----------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def session(self) -> SessionView | None:
        """The latest session view (from `joined`, `sessionUpdated`, `sessionEnded`, or a reset)."""
        return self._view

    @property
    def role(self) -> Role | None:
        return self.joined["role"] if self.joined else None

    @property
    def connection_id(self) -> str | None:
        return self.joined["connectionId"] if self.joined else None

    @property
    def position(self) -> StreamPosition | None:
        """Where this client is in the session's stream (and its channel's); pass it as `resume` to a later client."""
        last = self._orderer.last
        if last is None or self._epoch is None:
            return None
        channel, channel_seq = self._track.channel, self._track.orderer.last
        if channel is None or channel_seq is None:
            return StreamPosition(last, self._epoch)
        return StreamPosition(last, self._epoch, channel, channel_seq)

    @property
    def channel(self) -> str | None:
        """The channel this client is on (None: none)."""
        return self._track.channel

    @property
    def last_seq(self) -> int | None:
        return self._orderer.last

    @property
    def stats(self) -> StreamStats:
        """Stream events delivered, duplicates dropped, events that came ahead of a gap, seqs skipped: of both
        streams together."""
        session, channel = self._orderer.stats, self._track.orderer.stats
        return StreamStats(
            session.delivered + channel.delivered,
            session.duplicates + channel.duplicates,
            session.out_of_order + channel.out_of_order,
            session.skipped + channel.skipped,
        )

    # -- opening and closing ----------------------------------------------------------------------------------

    async def connect(self) -> JoinedEvent:
        """Opens the connection and joins; returns the first `joined`. Retryable failures are retried (see
        `on_state`); a final refusal (RefusedError), giving up, or `close()` raises."""
        if self._first_join is None:
            self._first_join = asyncio.get_running_loop().create_future()
            self._first_join.add_done_callback(_retrieve)
            self._spawn(self._run())
        return await asyncio.shield(self._first_join)

    async def close(self) -> None:
        """Closes for good: calls in flight raise ClosedError, no reconnect; the `async for` ends; the socket is
        closed (its close handshake, bounded by the socket's close timeout) before this returns."""
        current = asyncio.current_task()
        running = [task for task in self._tasks if task is not current]
        self._finish("client")  # starts the socket's close: a task of its own, not cancelled with the others
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await asyncio.gather(*(task for task in self._tasks if task is not current), return_exceptions=True)

    async def __aenter__(self) -> LiveSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- actions: each returns its answer, or raises the typed error -----------------------------------------

    async def ping(self) -> PongEvent:
        return cast(PongEvent, await self.request("ping"))

    async def history(
        self, *, since: int | None = None, limit: int | None = None, cursor: str | None = None
    ) -> HistoryEvent:
        fields = {"since": since, "limit": limit, "cursor": cursor}
        return cast(HistoryEvent, await self.request("history", **{k: v for k, v in fields.items() if v is not None}))

    async def broadcast(self, data: Any, *, channel: str | None = None) -> BroadcastSentEvent:
        """To every listener, or with `channel` to that channel's listeners only (in its own stream)."""
        on_channel = {"channel": channel} if channel is not None else {}
        return cast(BroadcastSentEvent, await self.request("broadcast", data=data, **on_channel))

    async def subscribe(self, channel: str | None) -> SubscribedEvent:
        """Moves this connection to `channel` (None: to none) in one step; returns `subscribed`, the new channel
        stream's position: from it on every event of that channel comes, none of the old one's."""
        return cast(SubscribedEvent, await self.request("subscribe", channel=channel))

    async def publish(self, events: PublishEvent | list[PublishEvent], *, channel: str | None = None) -> PublishAnswer:
        """Publishes over HTTP (`POST /sessions/{id}/broadcasts`, the owner's token; needs `http_url`): one event
        or a list of up to 25 (`{"data", "channel"?}`), those without their own `channel` to `channel` (none:
        everyone); returns each one's stream and seq. Not retried by the client (a second try publishes twice)."""
        if self.api is None:
            raise ValueError("publish() needs the HTTP API: LiveSession(..., http_url=...)")
        answer = await self.api.publish_events(self.session_id, publish_body(events, channel)["events"])
        if self.role == "speaker":  # channel events go to listeners only: the speaker's own are seen here
            for item in answer["items"]:
                self._track.mark_own(item["channel"], item["seq"])
            self._watch_gap()
        return answer

    async def send_message(self, text: str) -> MessageEvent:
        return cast(MessageEvent, await self.request("sendMessage", text=text))

    async def pause(self) -> SessionUpdatedEvent:
        return cast(SessionUpdatedEvent, await self.request("pause"))

    async def resume(self) -> SessionUpdatedEvent:
        return cast(SessionUpdatedEvent, await self.request("resume"))

    async def mute(self) -> SessionUpdatedEvent:
        return cast(SessionUpdatedEvent, await self.request("mute"))

    async def unmute(self) -> SessionUpdatedEvent:
        return cast(SessionUpdatedEvent, await self.request("unmute"))

    async def end(self) -> SessionEndedEvent:
        return cast(SessionEndedEvent, await self.request("end"))

    # -- presence, reactions, moderation (live_sessions_client.presence) -------------------------------------

    async def presence(
        self, *, channel: str | None | EllipsisType = ..., limit: int | None = None, cursor: str | None = None
    ) -> PresenceEvent:
        """One page of who is connected (the speaker; listeners too when the session's presence is public).
        `channel`: that channel's members only (None: the main stream's); left out: everyone."""
        fields = presence_fields(channel=channel, limit=limit, cursor=cursor)
        return cast(PresenceEvent, await self.request("presence", **fields))

    def presence_pages(
        self, *, channel: str | None | EllipsisType = ..., limit: int | None = None, cursor: str | None = None
    ) -> AsyncIterator[PresenceEvent]:
        """Every page of `presence`, asked for one at a time as the `async for` wants them."""

        async def page(at: str | None) -> PresenceEvent:
            return await self.presence(channel=channel, limit=limit, cursor=at)

        return presence_pages(page, cursor)

    async def set_presence(self, data: Any) -> PresenceSetEvent:
        """Sets this connection's presence data (any JSON up to 1 KB; bigger, or not JSON: ValidationError, unsent)."""
        return cast(PresenceSetEvent, await self.request("setPresence", data=check_presence_data(data)))

    @overload
    async def react(self, reaction: str) -> bool: ...
    @overload
    async def react(self, reaction: str, *, confirm: Literal[True]) -> ReactedEvent: ...
    @overload
    async def react(self, reaction: str, *, confirm: bool) -> bool | ReactedEvent: ...
    async def react(self, reaction: str, *, confirm: bool = False) -> bool | ReactedEvent:
        """A listener's reaction. Fire-and-forget: sent without an `id` if connected now (True), else dropped
        (False): a reaction is of its moment, never queued; no answer is awaited. `confirm=True`: sent with an
        `id`, returns the answer (waiting through a reconnect like any action). A malformed reaction raises
        ValidationError."""
        check_reaction(reaction)
        if confirm:
            return cast(ReactedEvent, await self.request("react", reaction=reaction))
        link = self._link
        if link is None or not self._connected.is_set() or self._is_closed():
            return False
        try:
            await link.ws.send(json.dumps({"action": "react", "reaction": reaction}, separators=(",", ":")))
        except ConnectionClosed:
            return False  # the link is going: its drop is handled there
        return True

    async def kick(self, connection_id: str, *, ban: bool = False) -> KickedEvent:
        """The speaker removes a listener (told `kicked`, then closed); `ban` keeps its user (or name) out."""
        fields: dict[str, Any] = {"connectionId": connection_id, **({"ban": True} if ban else {})}
        return cast(KickedEvent, await self.request("kick", **fields))

    async def request(self, action: str, **fields: Any) -> dict[str, Any]:
        """Sends an action once connected (waiting through a reconnect) and returns its answer."""
        if action == "join":
            raise ValueError("join is the client's own: use connect()")
        link = await self._when_connected()
        if action == "subscribe":
            self._track.switching(fields["channel"])
        return await self._send(link.ws, action, fields, self._request_timeout)

    # -- events -----------------------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
        """Pushed frames and stream events (in seq order, once each, `batch`es unpacked), a `reset` when the
        stream could not be replayed. Ends when the client closes; raises what ended it, if anything did."""
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(_END)  # every later iteration ends too
                if self._failure is not None:
                    raise self._failure
                return
            yield item

    # -- the connection loop ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._keep_connected()
        except asyncio.CancelledError:
            raise
        except Exception as unforeseen:  # a bug, or a failure nobody foresaw: the app hears of it
            logger.exception("the live session client failed")
            self._finish("CLIENT_FAILED", unforeseen)

    async def _keep_connected(self) -> None:
        attempt = 0
        while not self._is_closed():
            self._set_state("reconnecting" if self._ever_joined or attempt else "connecting", attempt=attempt)
            try:
                link = await self._open_and_join()
                attempt = 0
                failure: LiveSessionError = await self._stay_connected(link)
            except LiveSessionError as error:
                failure = error
                if self._channel_withdrawn(error):
                    pass  # on none from now: the next handshake asks for no channel
                elif not error.retryable and not self._is_closed():
                    self._finish(error.code, error)
            if self._is_closed():
                return
            attempt += 1
            if self._max_attempts is not None and attempt > self._max_attempts:
                why = f"{attempt - 1} attempts failed; last: {failure}"
                self._finish("GAVE_UP", LiveSessionError("GAVE_UP", why, False))
                return
            schedule = self._full_backoff if failure.code == "SESSION_FULL" else self._backoff
            delay = retry_delay(attempt - 1, schedule, getattr(failure, "retry_after", None), self._random)
            if failure.code == "CONNECTION_LOST" and attempt == 1:  # maybe everyone dropped: spread the comeback
                session = self.joined.get("session") if self.joined else None
                listeners = session.get("listenerCount", 0) if isinstance(session, dict) else 0
                delay = max(delay, self._random() * reconnect_spread(int(listeners)))
            self._set_state("reconnecting", attempt=attempt, retry_in=delay, error=failure)
            await self._sleep(delay)

    def _channel_withdrawn(self, error: LiveSessionError) -> bool:
        """INVALID_CHANNEL on a reconnect: the session stopped offering the channel while this client was away. It
        goes on with none, told as the server tells the listeners it can reach (`subscribed`, channel None)."""
        if error.code != "INVALID_CHANNEL" or not self._ever_joined or self._epoch is None:
            return False
        if self._track.channel is None:
            return False
        self._queue.put_nowait(self._track.dropped(self._epoch))
        return True

    async def _open_and_join(self) -> _Link:
        again = self._ever_joined
        link = self._adopt(await self._open())
        self._orderer.hold()
        self._track.hold()
        try:
            await self._join(link)
        except LiveSessionError:
            self._abandon(link.ws, 4000, "join failed")
            raise
        self.reconnects += again
        return link

    async def _join(self, link: _Link) -> dict[str, Any]:
        """`join` on `link`, resuming from the stream positions when there are some. Answered with the
        integration-error frame, the same join (the same positions) is sent again on the same connection after the
        usual backoff, up to JOIN_REPEATS times; the app sees only the delay. A timeout is not repeated: no answer
        at all says more about the link than about the server."""
        position = self.position
        fields: dict[str, Any] = {"sinceSeq": position.seq, "epoch": position.epoch} if position else {}
        fields.update(self._track.join_fields(position is not None))
        if self.name is not None:
            fields["name"] = self.name
        repeats = 0
        while True:
            try:
                return await self._send(link.ws, "join", fields, self._request_timeout)
            except OutcomeUnknownError:
                if repeats == JOIN_REPEATS:
                    raise
            delay = retry_delay(repeats, self._backoff, None, self._random)
            repeats += 1
            logger.info("join answered with an integration error; sent again in %.2f s", delay)
            with contextlib.suppress(builtins.TimeoutError):  # a drop (or close()) ends the wait
                await asyncio.wait_for(asyncio.shield(link.dropped), delay)
            if link.dropped.done():
                raise DisconnectedError("join")

    async def _stay_connected(self, link: _Link) -> LiveSessionError:
        """Until the socket drops; renews it ahead of API Gateway's 2-hour cap (make before break)."""
        renew = None if self._renew_after is None else renewal_delay(self._renew_after, self._random)
        while True:
            wait = None if renew is None else max(0.0, link.opened_at + renew - time.monotonic())
            with contextlib.suppress(builtins.TimeoutError):
                code, reason = await asyncio.wait_for(asyncio.shield(link.dropped), wait)
                return LiveSessionError("CONNECTION_LOST", f"the connection closed ({code} {reason})".strip(), True)
            renewed = await self._renew(link)
            if renewed is None:
                renew = None  # this connection's drop at the cap reconnects as any drop does (and renews again)
            else:
                link = renewed

    async def _renew(self, old: _Link) -> _Link | None:
        """Make before break: the new connection (a fresh token, a resuming join) takes the new actions; the
        old one is closed once the actions in flight on it are answered, so none of them fails for the swap."""
        try:
            link = self._adopt(await self._open())
        except LiveSessionError as error:
            logger.warning("renewing the connection failed: %s", error)
            return None
        try:
            await self._join(link)
        except LiveSessionError:
            self._abandon(link.ws, 4000, "join failed")  # the current link now: its drop reconnects
        else:
            self.renewals += 1
        for task in old.tasks - {old.reader}:
            task.cancel()  # its keepalive; its reader reads the answers still to come
        self._spawn(self._retire(old.ws))
        return link

    async def _retire(self, ws: ClientConnection) -> None:
        """Closes a renewed connection once no action sent on it waits for an answer (each has its timeout)."""
        waiting = [pending.future for pending in self._pending.values() if pending.ws is ws]
        if waiting:
            await asyncio.wait(waiting)
        await _close_quietly(ws, 1000, "renewed")

    async def _open(self) -> ClientConnection:
        """One handshake, with a freshly asked token. Raises RefusedError (its `retryable` says whether to go
        on) or a retryable LiveSessionError for anything else the network does."""
        try:
            token = await resolve_token(self._token)
        except Exception as error:  # the app's provider failed: maybe its identity service is down for a moment
            raise LiveSessionError("TOKEN_UNAVAILABLE", f"the token provider failed: {error!r}", True) from error
        if self._refused_token is not None and token in (None, self._refused_token):
            # Never a silent demotion to listener, nor the same refused token again.
            raise RefusedError(
                "UNAUTHORIZED", "the token was refused and the provider has no fresh one", 401, retryable=False
            )
        self._connect_url = connect_url(
            self.ws_url, self.session_id, token, channel=self._track.channel, name=self.name
        )
        try:
            ws = await self._open_once()
        except InvalidStatus as refused:
            response = refused.response
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            refusal = RefusedError.from_response(response.status_code, bytes(response.body or b""), retry_after)
            if response.status_code == 401:
                self._refused_token = token
                refusal.retryable = callable(self._token)
            raise refusal from None
        except builtins.TimeoutError as slow:
            raise errors.TimeoutError("the WebSocket handshake", self._open_timeout) from slow
        except (OSError, InvalidHandshake, ConnectionClosed, EOFError) as failed:
            # No answer, a reset, a proxy's garbage (websockets' InvalidMessage): all worth another try.
            raise LiveSessionError("CONNECT_FAILED", f"the handshake failed: {failed!r}", True) from failed
        self._refused_token = None
        return ws

    async def _open_once(self) -> ClientConnection:
        """The handshake itself, to `self._connect_url` (a seam tests use to take the network away)."""
        return await ws_connect(
            self._connect_url,
            open_timeout=self._open_timeout,
            compression=None,
            proxy=None,
            max_size=2**20,
            close_timeout=2,  # a dead link's close must not hold up the next connection
            ping_interval=20,  # finds a dead TCP path; API Gateway does not count these as activity
        )

    def _adopt(self, ws: ClientConnection) -> _Link:
        """Make `ws` the connection actions are sent on, and read it."""
        link = _Link(ws, asyncio.get_running_loop().create_future())
        self._link = link
        self._connected.clear()
        link.reader = self._spawn(self._read(ws), link)
        return link

    async def _read(self, ws: ClientConnection) -> None:
        code, reason = 1006, ""
        try:
            async for raw in ws:
                self._on_frame(ws, raw)
        except ConnectionClosed:
            pass
        except Exception as unforeseen:
            logger.exception("a frame could not be handled")
            self._finish("CLIENT_FAILED", unforeseen)
            return
        if ws.close_code is not None:
            code, reason = ws.close_code, ws.close_reason or ""
        self._on_socket_closed(ws, code, reason)

    def _on_socket_closed(self, ws: ClientConnection, code: int, reason: str) -> None:
        for request_id, pending in list(self._pending.items()):
            if pending.ws is ws:
                del self._pending[request_id]
                _fail(pending.future, DisconnectedError(pending.action))
        link = self._link
        if link is None or link.ws is not ws:
            return  # a renewed connection's predecessor
        self._link = None
        self._connected.clear()
        for task in link.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        if not link.dropped.done():
            link.dropped.set_result((code, reason))

    def _abandon(self, ws: ClientConnection, code: int, reason: str) -> None:
        """Gives up on a socket now (its close handshake may never finish on a dead link)."""
        self._on_socket_closed(ws, code, reason)
        self._spawn(_close_quietly(ws, code, reason))

    async def _send(self, ws: ClientConnection, action: str, fields: dict[str, Any], timeout: float) -> dict[str, Any]:
        request_id = f"{self._id_prefix}{next(self._ids)}"
        text = json.dumps({"action": action, **fields, "id": request_id}, allow_nan=False, separators=(",", ":"))
        size = len(text.encode())
        if size > MAX_FRAME_BYTES:
            raise FrameTooLargeError(action, size, MAX_FRAME_BYTES)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(action, future, ws)
        try:
            await ws.send(text)
            return await asyncio.wait_for(future, timeout)  # an error the frame handler set is raised as is
        except ConnectionClosed:
            raise DisconnectedError(action) from None
        except builtins.TimeoutError:
            raise errors.TimeoutError(action, timeout) from None
        finally:
            self._pending.pop(request_id, None)

    # -- frames -----------------------------------------------------------------------------------------------

    def _on_frame(self, ws: ClientConnection, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            return  # not JSON: not a frame of this protocol
        if not isinstance(frame, dict):
            return
        if is_integration_error(frame):
            self._fail_in_flight(ws, frame.get("requestId"))
        elif frame.get("type") == "batch":
            for event in frame.get("events") or []:
                if isinstance(event, dict):
                    self._on_event(ws, event)
        elif isinstance(frame.get("type"), str):
            self._on_event(ws, frame)

    def _on_event(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        # `joined` and `subscribed` are taken in before their answers return, so the app's view is ready by then.
        if kind == "joined":
            self._on_joined(cast(JoinedEvent, frame))
        elif kind == "subscribed":
            self._track.subscribed(cast(SubscribedEvent, frame))
            self._watch_gap()
        request_id = frame.get("id")
        pending = self._pending.pop(request_id, None) if isinstance(request_id, str) else None
        if pending is not None:
            if kind == "error":
                _fail(pending.future, ActionError(pending.action, frame))
            elif not pending.future.done():
                pending.future.set_result(frame)
        if kind == "error" and frame.get("code") == "CONNECTION_NOT_FOUND":
            self._abandon(ws, 4003, "the server lost this connection")  # a drop: reconnect and resume
            return
        if kind == "joined":
            return
        if is_stream_event(frame):
            self._accept_stream(frame)  # an answer that is a stream event (sendMessage's) is in the stream too
            return
        if kind == "broadcastSent" and isinstance(frame.get("seq"), int):
            # The speaker's own broadcast is never pushed to it: no gap (in the stream it went to).
            if "channel" in frame:
                self._track.mark_own(frame["channel"], frame["seq"])
            else:
                self._orderer.mark_seen(frame["seq"])
            self._watch_gap()
        if pending is None:
            self._queue.put_nowait(frame)
        if kind == "kicked" and pending is None and frame.get("connectionId") == self.connection_id:
            # The speaker removed this connection; the server closes it. Reconnecting would undo the kick. (`kicked`
            # is also the speaker's answer to its own `kick`: only the one naming this connection ends it.)
            asyncio.get_running_loop().call_soon(self._finish, "kicked")

    def _fail_in_flight(self, ws: ClientConnection, request_id: object) -> None:
        """API Gateway's integration error names no action: every one in flight on `ws` may or may not have
        happened. The join is the client's own and safe to repeat: `_join` sends it again on the same connection."""
        for key, pending in list(self._pending.items()):
            if pending.ws is ws:
                del self._pending[key]
                _fail(pending.future, OutcomeUnknownError(pending.action, str(request_id)))

    def _on_joined(self, joined: JoinedEvent) -> None:
        session = joined["session"]
        resumed = self._orderer.last is not None
        epoch_changed = resumed and self._epoch is not None and session.get("epoch") != self._epoch
        self._view, self.joined = session, joined
        self._ever_joined = True
        if self._state != "connected":
            self._set_state("connected", attempt=0)
        continues = resumed and joined.get("recovered") is True and not epoch_changed
        self._track.joined(joined.get("channelStream"), continues)
        if continues:
            self._orderer.skip(joined.get("missing") or [])
            self._orderer.release()
        else:
            self._epoch = session.get("epoch")
            if resumed:
                self._reset(session, "epochChanged" if epoch_changed else "notRecovered")
            self._orderer.release(session.get("seq") or 0)
        link = self._link
        if link is not None and not self._connected.is_set():
            self._connected.set()
            if self._keepalive is not None:
                self._spawn(self._keep_alive(link, self._keepalive), link)
        if self._first_join is not None and not self._first_join.done():
            self._first_join.set_result(joined)
        self._watch_gap()

    def _reset(self, session: SessionView, reason: Literal["notRecovered", "epochChanged"]) -> None:
        self.resets += 1
        self._queue.put_nowait(ResetEvent(type="reset", session=session, reason=reason))

    def _accept_stream(self, event: dict[str, Any]) -> None:
        pushed = self._track.push(event) if is_channel_event(event) else self._orderer.push(event)
        if pushed == "overflow":
            self._start_recovery(0.0)
        else:
            self._watch_gap()

    def _deliver(self, event: dict[str, Any]) -> None:
        if event.get("type") in ("sessionUpdated", "sessionEnded"):
            self._view = event["session"]
        self._queue.put_nowait(event)
        if event.get("type") == "sessionEnded":
            # Listeners are closed by the server; the speaker's connection has nothing left to do either.
            asyncio.get_running_loop().call_soon(self._finish, "ended")

    # -- gaps: asked for again by re-joining with sinceSeq (PROTOCOL_NOTES.md says why) ------------------------

    @property
    def _has_gap(self) -> bool:
        return self._orderer.has_gap or self._track.orderer.has_gap

    def _watch_gap(self) -> None:
        if not self._has_gap:
            self._gap_tried_at = None
            if self._gap_task is not None and not self._gap_task.done():
                self._gap_task.cancel()
            self._gap_task = None
            return
        self._start_recovery(self._gap_timeout)

    def _start_recovery(self, after: float) -> None:
        if self._gap_task is None or self._gap_task.done():
            self._gap_task = self._spawn(self._recover(after))

    async def _recover(self, after: float) -> None:
        await asyncio.sleep(after)
        link = self._link
        if link is None or not self._has_gap:
            return
        last = (self._orderer.last, self._track.orderer.last)
        if self._gap_tried_at == last:
            # The server replayed and the hole is still there (an older server that cannot say `missing`):
            # hand over what follows it rather than hold it forever.
            skipped = (list(self._orderer.skip_gap()), list(self._track.orderer.skip_gap()))
            logger.warning("seqs %s (session) and %s (channel) never came; skipped", *skipped)
            self._watch_gap()
            return
        self._gap_tried_at = last
        try:
            await self._join(link)
        except LiveSessionError:
            self._abandon(link.ws, 4001, "stream gap not recovered")  # the reconnect's join resumes by seq
            return
        self._gap_task = None
        self._watch_gap()

    # -- keepalive, state, waiting ----------------------------------------------------------------------------

    async def _keep_alive(self, link: _Link, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self._send(link.ws, "ping", {}, self._pong_timeout)
            except errors.TimeoutError:
                self._abandon(link.ws, 4002, "keepalive ping unanswered")
                return
            except LiveSessionError:
                return  # the link is going: its drop is handled there

    def _set_state(self, state: ConnectionState, **change: Any) -> None:
        previous = self._state
        if previous == "closed":
            return
        self._state = state
        if self._on_state is not None:
            try:
                self._on_state(StateChange(state, previous, **change))
            except Exception:  # an app handler's bug must not stop the client's own bookkeeping
                logger.exception("on_state raised")

    async def _when_connected(self) -> _Link:
        while True:
            if self._state == "closed":
                raise self._closed_error()
            if self._state == "idle":
                raise ClosedError("call connect() first")
            link = self._link
            if self._connected.is_set() and link is not None:
                return link
            await self._connected.wait()

    async def _sleep(self, seconds: float) -> None:
        """A backoff wait that `close()` cuts short."""
        with contextlib.suppress(builtins.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _spawn(self, coroutine: Any, link: _Link | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if link is not None:
            link.tasks.add(task)
            task.add_done_callback(link.tasks.discard)
        return task

    def _is_closed(self) -> bool:
        return self._state == "closed"

    def _closed_error(self) -> LiveSessionError:
        failure = self._failure
        if isinstance(failure, LiveSessionError):
            return failure
        if failure is not None:
            closed = ClosedError(f"the client failed: {failure!r}")
            closed.__cause__ = failure
            return closed
        return ClosedError("the client is closed")

    def _finish(self, reason: str, error: BaseException | None = None) -> None:
        if self._state == "closed":
            return
        self._failure = error
        if error is None:
            closed: LiveSessionError = ClosedError(_CLOSED_BECAUSE.get(reason, "the client was closed"))
        else:
            closed = self._closed_error()
        for pending in self._pending.values():
            _fail(pending.future, closed)
        self._pending.clear()
        link = self._link
        if link is not None:
            self._abandon(link.ws, 1000, "client closed" if reason == "client" else _CLOSED_BECAUSE.get(reason, reason))
        self._wake.set()
        self._connected.set()  # wakes callers waiting for a connection: they find it closed
        if self._first_join is not None and not self._first_join.done():
            self._first_join.set_exception(closed)
        self._set_state("closed", attempt=0, reason=reason, error=error)
        self._queue.put_nowait(_END)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Marks a future's exception as seen (it is raised to whoever awaits it, and to the `async for`)."""
    if not future.cancelled():
        future.exception()


async def _close_quietly(ws: ClientConnection, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code, reason)
