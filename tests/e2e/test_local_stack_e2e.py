"""End to end through the local stack: the real handlers behind the local API Gateway stand-ins, driven by
real HTTP (requests) and WebSocket (websockets) clients, checked against the contract.

One stack for the module (free ports, a temporary state dir, no periodic sweep). Each test makes its
own sessions; the sweep test runs last because a sweep ends every speakerless session in the table.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from local.stack import LocalStack
from tests.support.contract import PUBLIC_FIELDS, REQUEST_ID
from tests.support.local_stack import running_local_stack, ws_url

pytestmark = pytest.mark.e2e

SESSION_ID = re.compile(r"^[a-z]+-[a-z]+-\d{3}$")
SPEAKERLESS_TIMEOUT = 2  # seconds: the sweep test waits this long


@pytest.fixture(scope="module")
def stack():
    with running_local_stack(settings_overrides={"SPEAKERLESS_TIMEOUT_SECONDS": str(SPEAKERLESS_TIMEOUT)}) as local:
        yield local


# -- helpers -----------------------------------------------------------------------------------------------


class Http:
    def __init__(self, stack: LocalStack) -> None:
        assert stack.urls is not None
        self.base = stack.urls.http
        self.session = requests.Session()

    def __call__(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base + path, headers=headers, timeout=15, **kwargs)

    def create(self, token: str, **body: Any) -> dict[str, Any]:
        response = self("POST", "/sessions", token, json=body)
        assert response.status_code == 201, response.text
        return response.json()


class Peer:
    """A WebSocket client that keeps what it received, so a test can wait for one type among others."""

    def __init__(self, ws: ClientConnection, name: str) -> None:
        self.ws = ws
        self.name = name
        self.received: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []
        self.joined: dict[str, Any] = {}

    @property
    def connection_id(self) -> str:
        return self.joined["connectionId"]

    async def send(self, action: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"action": action, **fields}))

    async def next(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 8.0) -> dict[str, Any]:
        for index, message in enumerate(self._unread):
            if predicate(message):
                del self._unread[: index + 1]
                return message
        self._unread.clear()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: nothing matching arrived; got {self.received[-10:]}")
            message = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            self.received.append(message)
            if predicate(message):
                return message

    async def of_type(self, kind: str, timeout: float = 8.0) -> dict[str, Any]:
        return await self.next(lambda m: m.get("type") == kind, timeout)

    async def ask(self, action: str, answer: str, **fields: Any) -> dict[str, Any]:
        await self.send(action, **fields)
        return await self.next(lambda m: m.get("type") in (answer, "error"))

    async def closed(self, timeout: float = 8.0) -> int | None:
        """Wait for the server to close this connection; return the close code."""
        deadline = time.monotonic() + timeout
        with pytest.raises(ConnectionClosed):
            while True:
                message = json.loads(await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic()))
                self.received.append(message)
        return self.ws.close_code


async def join(stack: LocalStack, session_id: str, token: str | None = None, name: str = "peer") -> Peer:
    assert stack.urls is not None
    ws = await connect(ws_url(stack, session_id, token), proxy=None, compression=None, open_timeout=15)
    peer = Peer(ws, name)
    await peer.send("join")
    peer.joined = await peer.of_type("joined")
    return peer


async def refused(stack: LocalStack, session_id: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    assert stack.urls is not None
    with pytest.raises(InvalidStatus) as error:
        ws = await connect(ws_url(stack, session_id, token), proxy=None, open_timeout=15)
        await ws.close()
    response = error.value.response
    return response.status_code, json.loads(response.body or b"{}")


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Retry a (blocking) check off the event loop, so this test's own sockets keep being served."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await asyncio.to_thread(check)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


# -- HTTP --------------------------------------------------------------------------------------------------


def test_create_then_public_and_owner_views(stack: LocalStack) -> None:
    http = Http(stack)
    owner = stack.mint("owner-views")
    assert http("POST", "/sessions", json={"title": "x"}).status_code == 401  # the handler: no token
    created = http.create(owner, title="Keynote", maxListeners=5)
    session_id = created["sessionId"]
    assert SESSION_ID.match(session_id) and created["status"] == "active" and created["title"] == "Keynote"

    public = http("GET", f"/sessions/{session_id}")  # a public route: no token needed
    assert public.status_code == 200 and REQUEST_ID.fullmatch(public.headers["apigw-requestid"])
    assert set(public.json()) == PUBLIC_FIELDS
    assert public.json()["listenerCount"] == 0 and public.json()["muted"] is False

    as_owner = http("GET", f"/sessions/{session_id}", owner).json()
    assert PUBLIC_FIELDS < set(as_owner) and as_owner["ownerId"] == "owner-views"
    as_stranger = http("GET", f"/sessions/{session_id}", stack.mint("stranger")).json()
    assert set(as_stranger) == PUBLIC_FIELDS

    mine = http("GET", "/sessions", owner)
    assert mine.status_code == 200 and session_id in [s["sessionId"] for s in mine.json()["items"]]
    assert http("GET", "/sessions/quiet-river-999").status_code == 404
    assert http("GET", "/health").status_code == 200
    assert "/sessions/{sessionId}" in http("GET", "/openapi.json").json()["paths"]


def test_cursors_are_sealed_under_the_state_directorys_secret(stack: LocalStack) -> None:
    from session_schema.cursor import CursorSeal, listing_of
    from session_schema.keys import user_sessions_partition
    from session_store.dynamo import USER_SESSIONS as SPEC

    from local.secretsmanager import cursor_secret

    http = Http(stack)
    owner = stack.mint("pager")
    made = [http.create(owner, title=f"s{n}")["sessionId"] for n in range(3)]
    seen, cursor = [], None
    while True:
        page = http("GET", "/sessions", owner, params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [s["sessionId"] for s in page["items"]]
        if not (cursor := page["nextCursor"]):
            break
    assert seen == made[::-1]
    # The secret the handlers read from the embedded Secrets Manager is the state directory's own (0600 file).
    first = http("GET", "/sessions", owner, params={"limit": 1}).json()["nextCursor"]
    key_file = stack.state_dir / "cursor-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    listing = listing_of((SPEC.partition_attr, user_sessions_partition("pager")), (SPEC.sort_attr, SPEC.sort_prefix))
    seal = CursorSeal.from_secret(cursor_secret(stack.state_dir))
    opened = seal.open(first, attributes=SPEC.cursor_attributes, listing=listing)
    assert opened["PK"] == f"SESSION#{made[-1]}"
    stale = CursorSeal.from_secret("x" * 64).seal(opened, listing=listing)
    refused = http("GET", "/sessions", owner, params={"cursor": stale})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "cursor"


# -- the live session --------------------------------------------------------------------------------------


def test_live_session_from_create_to_end(stack: LocalStack) -> None:
    http = Http(stack)
    owner = stack.mint("speaker-1")
    session_id = http.create(owner, title="Live")["sessionId"]

    async def scenario() -> None:
        alice = await join(stack, session_id, name="alice")
        bob = await join(stack, session_id, token=stack.mint("bob"), name="bob")  # signed in, not the owner
        assert alice.joined["role"] == "listener" and bob.joined["role"] == "listener"
        assert set(alice.joined["session"]) == PUBLIC_FIELDS and alice.joined["session"]["sessionId"] == session_id

        speaker = await join(stack, session_id, token=owner, name="speaker")
        assert speaker.joined["role"] == "speaker"
        assert speaker.joined["session"]["listenerCount"] == 2
        assert http("GET", f"/sessions/{session_id}").json()["listenerCount"] == 2

        # Broadcasts reach every listener, in order, with increasing seq.
        for n in range(5):
            await speaker.send("broadcast", data={"n": n})
        sent = [await speaker.of_type("broadcastSent") for _ in range(5)]
        assert [s["delivered"] for s in sent] == [2] * 5
        for listener in (alice, bob):
            got = [await listener.of_type("broadcast") for _ in range(5)]
            assert [g["data"] for g in got] == [{"n": n} for n in range(5)]
            seqs = [g["seq"] for g in got]
            assert seqs == sorted(seqs) and len(set(seqs)) == 5
            assert all(isinstance(g["ts"], int) for g in got)

        # Pause and resume: everyone sees each change.
        paused = await speaker.ask("pause", "sessionUpdated")
        assert paused["session"]["status"] == "paused"
        for listener in (alice, bob):
            assert (await listener.of_type("sessionUpdated"))["session"]["status"] == "paused"
        assert http("GET", f"/sessions/{session_id}").json()["status"] == "paused"
        resumed = await speaker.ask("resume", "sessionUpdated")
        assert resumed["session"]["status"] == "active"
        for listener in (alice, bob):
            assert (await listener.of_type("sessionUpdated"))["session"]["status"] == "active"

        # Messages: one over the WebSocket, one over HTTP; stored, sent to everyone, in the history.
        said = await speaker.ask("sendMessage", "message", text="hello from ws")
        assert said["text"] == "hello from ws"
        posted = http("POST", f"/sessions/{session_id}/messages", owner, json={"text": "hello from http"})
        assert posted.status_code in (200, 201), posted.text
        for listener in (alice, bob):
            first = await listener.of_type("message")
            second = await listener.of_type("message")
            assert [first["text"], second["text"]] == ["hello from ws", "hello from http"]
        assert (await speaker.of_type("message"))["text"] == "hello from http"

        history = await alice.ask("history", "history")
        assert [m["text"] for m in history["items"]] == ["hello from ws", "hello from http"]
        listed = http("GET", f"/sessions/{session_id}/messages")
        assert listed.status_code == 200
        assert [m["text"] for m in listed.json()["items"]] == ["hello from ws", "hello from http"]
        since = history["items"][0]["createdAt"]
        later = http("GET", f"/sessions/{session_id}/messages", params={"since": since}).json()["items"]
        assert all(m["createdAt"] > since for m in later)

        # End over HTTP: everyone is told, the listeners are disconnected, the session refuses joins.
        assert http("DELETE", f"/sessions/{session_id}", stack.mint("bob")).status_code == 403
        ended = http("DELETE", f"/sessions/{session_id}", owner)
        assert ended.status_code == 204
        assert (await speaker.of_type("sessionEnded"))["session"]["status"] == "ended"
        for listener in (alice, bob):
            assert (await listener.of_type("sessionEnded"))["session"]["status"] == "ended"
            assert await listener.closed() in (1000, 1001)
        assert http("DELETE", f"/sessions/{session_id}", owner).status_code == 204  # repeatable

        status, body = await refused(stack, session_id)
        assert status == 410 and body["error"]["code"] == "SESSION_ENDED"
        assert http("GET", f"/sessions/{session_id}").json()["status"] == "ended"
        assert http("GET", f"/sessions/{session_id}/messages", owner).status_code == 200  # owner always
        await speaker.ws.close()

    asyncio.run(scenario())


def test_end_from_the_websocket_closes_the_listeners(stack: LocalStack) -> None:
    http = Http(stack)
    owner = stack.mint("speaker-2")
    session_id = http.create(owner)["sessionId"]

    async def scenario() -> None:
        listener = await join(stack, session_id, name="listener")
        speaker = await join(stack, session_id, token=owner, name="speaker")
        answer = await speaker.ask("end", "sessionEnded")
        assert answer["session"]["status"] == "ended"
        assert (await listener.of_type("sessionEnded"))["session"]["status"] == "ended"
        assert await listener.closed() in (1000, 1001)
        status, body = await refused(stack, session_id, token=owner)
        assert status == 410 and body["error"]["code"] == "SESSION_ENDED"
        await speaker.ws.close()

    asyncio.run(scenario())
    asyncio.run(eventually(lambda: _assert_no_connections(stack, session_id)))


def _assert_no_connections(stack: LocalStack, session_id: str) -> None:
    assert Http(stack)("GET", f"/sessions/{session_id}").json()["listenerCount"] == 0


# -- refusals ----------------------------------------------------------------------------------------------


def test_refused_handshakes(stack: LocalStack) -> None:
    http = Http(stack)
    owner = stack.mint("speaker-3")
    full = http.create(owner, maxListeners=1)["sessionId"]

    async def scenario() -> None:
        status, body = await refused(stack, "quiet-river-999")
        assert status == 404 and body["error"]["code"] == "SESSION_NOT_FOUND"
        status, body = await refused(stack, "not a session id!")
        assert status == 400 and body["error"]["code"] == "INVALID_SESSION_ID"

        first = await join(stack, full, name="first")
        status, body = await refused(stack, full)
        assert status == 429 and body["error"]["code"] == "SESSION_FULL"
        speaker = await join(stack, full, token=owner, name="speaker")  # the speaker is not a listener
        assert speaker.joined["role"] == "speaker"
        assert http("GET", f"/sessions/{full}").json()["listenerCount"] == 1
        await first.ws.close()
        await eventually(lambda: _count_is(http, full, 0))
        second = await join(stack, full, name="second")  # room again once the first left
        assert second.joined["role"] == "listener"
        for peer in (second, speaker):
            await peer.ws.close()

    asyncio.run(scenario())


def _count_is(http: Http, session_id: str, count: int) -> None:
    assert http("GET", f"/sessions/{session_id}").json()["listenerCount"] == count


def test_actions_answered_on_the_same_connection(stack: LocalStack) -> None:
    http = Http(stack)
    owner = stack.mint("speaker-4")
    session_id = http.create(owner)["sessionId"]

    async def scenario() -> None:
        listener = await join(stack, session_id, name="listener")
        pong = await listener.ask("ping", "pong")
        assert isinstance(pong["ts"], int)
        forbidden = await listener.ask("broadcast", "nothing", data={"x": 1})
        assert forbidden["type"] == "error" and forbidden["code"] == "FORBIDDEN"
        invalid = await listener.ask("dance", "nothing")
        assert invalid["type"] == "error" and invalid["code"] == "INVALID_ACTION"
        await listener.ws.send("not json at all")
        assert (await listener.of_type("error"))["code"] in ("INVALID_ACTION", "VALIDATION_ERROR")
        rejoined = await listener.ask("join", "joined")  # idempotent
        assert rejoined["connectionId"] == listener.connection_id
        assert http("GET", f"/sessions/{session_id}").json()["listenerCount"] == 1
        await listener.ws.close()

    asyncio.run(scenario())


# -- dead clients ------------------------------------------------------------------------------------------


HANDSHAKE_WINDOW = 1  # seconds: a 410 unregisters a connection registered longer ago than this


def test_dead_clients_are_cleaned_up() -> None:
    with running_local_stack(settings_overrides={"HANDSHAKE_WINDOW_SECONDS": str(HANDSHAKE_WINDOW)}) as stack:
        _dead_clients_are_cleaned_up(stack)


def _dead_clients_are_cleaned_up(stack: LocalStack) -> None:
    http = Http(stack)
    owner = stack.mint("speaker-5")
    session_id = http.create(owner)["sessionId"]

    async def scenario() -> None:
        speaker = await join(stack, session_id, token=owner, name="speaker")
        vanished = await join(stack, session_id, name="vanished")
        joined_at = time.monotonic()
        aborted = await join(stack, session_id, name="aborted")
        steady = await join(stack, session_id, name="steady")
        assert http("GET", f"/sessions/{session_id}").json()["listenerCount"] == 3

        # A client whose network died: API Gateway can no longer reach it and no $disconnect ran. The next
        # send finds it gone (410) and unregisters it, once it is past the handshake window (a 410 to a younger
        # connection may mean only that its `$connect` is still running: test_connection_races.py).
        assert stack.sever_connection(vanished.connection_id)
        await asyncio.sleep(max(0.0, joined_at + HANDSHAKE_WINDOW - time.monotonic()))
        await speaker.send("broadcast", data="after the loss")
        sent = await speaker.of_type("broadcastSent")
        assert sent["delivered"] == 2
        assert (await steady.of_type("broadcast"))["data"] == "after the loss"
        await eventually(lambda: _count_is(http, session_id, 2))
        assert vanished.connection_id not in stack.live_connections()

        # A client killed without a close frame: the TCP drop runs $disconnect.
        aborted.ws.transport.abort()
        await eventually(lambda: _count_is(http, session_id, 1))
        count = await speaker.next(lambda m: m.get("type") == "listenerCount" and m["listenerCount"] == 1)
        assert count["sessionId"] == session_id
        assert aborted.connection_id not in stack.live_connections()
        for peer in (steady, speaker):
            await peer.ws.close()

    asyncio.run(scenario())


# -- the sweep (last: it ends every speakerless session in the table) -----------------------------------


def test_speaker_leaving_does_not_end_the_session_but_the_sweep_does(stack: LocalStack) -> None:
    http = Http(stack)
    owner = stack.mint("speaker-6")
    session_id = http.create(owner)["sessionId"]

    async def scenario() -> None:
        listener = await join(stack, session_id, name="listener")
        speaker = await join(stack, session_id, token=owner, name="speaker")
        await speaker.ws.close()
        gone = await listener.of_type("speakerDisconnected")
        assert gone["sessionId"] == session_id
        assert http("GET", f"/sessions/{session_id}").json()["status"] == "active"

        await asyncio.sleep(SPEAKERLESS_TIMEOUT + 0.5)
        summary = await asyncio.to_thread(stack.run_sweep)
        assert session_id in summary["ended"]
        assert (await listener.of_type("sessionEnded"))["session"]["status"] == "ended"
        assert await listener.closed() in (1000, 1001)
        assert http("GET", f"/sessions/{session_id}").json()["status"] == "ended"

    asyncio.run(scenario())
