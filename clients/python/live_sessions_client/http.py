"""The HTTP API calls a listener or speaker app needs: create, read, list and end a session, publish a message,
and read the event stream (`GET /sessions/{id}/events`, for apps that poll). The twin of the TypeScript
client's `http.ts`.

Standard library only (urllib, run in a thread so the event loop never blocks): the client depends on nothing
but `websockets`. Calls are not retried here: an `HttpError` says whether another try can help (`retryable`)
and when (`retry_after`), and publishing twice would store the message twice.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict, cast
from urllib.parse import quote, urlencode

from .channels import PublishAnswer, PublishEvent
from .errors import HttpError
from .protocol import MessageView, SessionView, StreamEvent

# A token, or a function (plain or async) that returns the current one, so an app can refresh it between
# reconnects (Cognito tokens last an hour; a connection may last two).
TokenSource = str | None | Callable[[], str | None] | Callable[[], Awaitable[str | None]]


async def resolve_token(token: TokenSource) -> str | None:
    if not callable(token):
        return token
    value = token()
    return await value if inspect.isawaitable(value) else value


class EventsPage(TypedDict, total=False):
    recovered: bool
    session: SessionView
    items: list[StreamEvent]
    nextSinceSeq: int
    missing: list[int]  # v2: seqs in this page's range that will never come


class SessionsPage(TypedDict):
    items: list[SessionView]
    nextCursor: str | None


class MessagesPage(TypedDict):
    items: list[MessageView]
    nextCursor: str | None


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header in seconds (the HTTP-date form is not used by this API)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class HttpApi:
    def __init__(self, http_url: str, token: TokenSource = None, *, timeout: float = 15.0) -> None:
        """`http_url`: the HTTP API's base URL, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com` or
        `http://127.0.0.1:3000`; `token`: the signed-in user's (needed to create, list, end and publish)."""
        self.base = http_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    async def create_session(
        self,
        *,
        title: str | None = None,
        source_language: str | None = None,
        max_listeners: int | None = None,
        channels: list[str] | None = None,
    ) -> SessionView:
        """`channels`: up to 32 names (`^[a-z0-9][a-z0-9._-]{0,31}$`) listeners choose between."""
        fields = {
            "title": title,
            "sourceLanguage": source_language,
            "maxListeners": max_listeners,
            "channels": channels,
        }
        body = _without_none(fields)
        return cast(SessionView, await self.call("POST", "/sessions", body))

    async def get_session(self, session_id: str) -> SessionView:
        return cast(SessionView, await self.call("GET", _session(session_id)))

    async def list_sessions(self, *, limit: int | None = None, cursor: str | None = None) -> SessionsPage:
        return cast(SessionsPage, await self.call("GET", "/sessions" + _query(limit=limit, cursor=cursor)))

    async def end_session(self, session_id: str) -> None:
        await self.call("DELETE", _session(session_id))

    async def events(
        self,
        session_id: str,
        since_seq: int,
        *,
        epoch: str | None = None,
        limit: int | None = None,
        channel: str | None = None,
    ) -> EventsPage:
        """A page of the session's stream after `since_seq`; with `channel`, of that channel's own stream."""
        query = _query(sinceSeq=since_seq, epoch=epoch, limit=limit, channel=channel)
        return cast(EventsPage, await self.call("GET", _session(session_id) + "/events" + query))

    async def messages(
        self, session_id: str, *, since: int | None = None, limit: int | None = None, cursor: str | None = None
    ) -> MessagesPage:
        query = _query(since=since, limit=limit, cursor=cursor)
        return cast(MessagesPage, await self.call("GET", _session(session_id) + "/messages" + query))

    async def publish(self, session_id: str, text: str) -> MessageView:
        """`POST /sessions/{id}/messages`: stored first, then sent to every connection (owner only)."""
        return cast(MessageView, await self.call("POST", _session(session_id) + "/messages", {"text": text}))

    async def publish_events(self, session_id: str, events: list[PublishEvent]) -> PublishAnswer:
        """`POST /sessions/{id}/broadcasts` (the owner's token): 1 to 25 events, each to its channel or to everyone,
        published in order; the answer gives each one's stream and seq. Not retried: a second try publishes twice."""
        path = _session(session_id) + "/broadcasts"
        return cast(PublishAnswer, await self.call("POST", path, {"events": events}))

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """One call; a non-2xx answer is an HttpError with the contract's code (status 0: no answer at all)."""
        headers = {"accept": "application/json"}
        token = await resolve_token(self.token)
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            headers["content-type"] = "application/json"
            data = json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        return await asyncio.to_thread(self._send, request, f"{method} {path}")

    def _send(self, request: urllib.request.Request, what: str) -> Any:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as answered:
            raise _http_error(what, answered.code, answered.read(), answered.headers) from None
        except (OSError, ValueError) as unanswered:  # refused, reset, timed out, a bad URL
            raise HttpError("NETWORK_ERROR", f"{what}: {unanswered}", 0) from unanswered
        return json.loads(text) if text else None


def _http_error(what: str, status: int, raw: bytes, headers: Any) -> HttpError:
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    code, message, request_id = error.get("code"), error.get("message"), error.get("requestId")
    return HttpError(
        code if isinstance(code, str) else f"HTTP_{status}",
        message if isinstance(message, str) else f"{what} answered {status}",
        status,
        request_id if isinstance(request_id, str) else headers.get("apigw-requestid"),
        retry_after_seconds(headers.get("retry-after")),
    )


def _session(session_id: str) -> str:
    return "/sessions/" + quote(session_id, safe="")


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _query(**fields: Any) -> str:
    present = _without_none(fields)
    return "?" + urlencode(present) if present else ""
