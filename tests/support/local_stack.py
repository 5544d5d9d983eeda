"""The local stack with the real handlers, as the end-to-end, fuzz and attack tests start it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local.stack import LocalStack


@contextmanager
def running_local_stack(**options: Any) -> Iterator[LocalStack]:
    """Free ports, a temporary state dir and no periodic sweep unless `options` say otherwise. Fails the
    test, naming the reason, when a handler cannot be imported (the stack would answer every call 502)."""
    local = LocalStack(**{"http_port": 0, "ws_port": 0, "state_dir": None, "sweep_interval": None, **options})
    with local:
        missing = {name: why for name, why in local.handler_status.items() if why}
        if missing:
            pytest.fail(f"handlers not importable: {missing}")
        yield local


def http(local: LocalStack, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    """One request to the stack's real HTTP API (`requests`), with `token` as the bearer when given."""
    import requests

    assert local.urls is not None
    headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    timeout = kwargs.pop("timeout", 15)
    return requests.request(method, local.urls.http + path, headers=headers, timeout=timeout, **kwargs)


def create_session(local: LocalStack, token: str, **body: Any) -> str:
    """Create a session over the stack's real HTTP API as the token's owner; its ID."""
    response = http(local, "POST", "/sessions", token, json=body)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    return session_id


def ws_url(local: LocalStack, session_id: str, token: str | None = None) -> str:
    """The stack's WebSocket connect URL for a session: a listener's, or the owner's with `token`."""
    from urllib.parse import urlencode

    assert local.urls is not None
    query = {"sessionId": session_id, **({"token": token} if token else {})}
    return f"{local.urls.ws}/?{urlencode(query)}"


async def open_ws(url: str, **options: Any) -> Any:
    """A raw `websockets` connection as the tests open one: no proxy, no compression, no frame-size cap."""
    from websockets.asyncio.client import connect

    return await connect(url, **{"proxy": None, "compression": None, "open_timeout": 15, "max_size": None, **options})


async def next_of_type(ws: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type `kind` on an asyncio `websockets` connection, skipping the others."""
    import asyncio
    import json
    import time

    deadline = time.monotonic() + timeout
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if message.get("type") == kind:
            return message


def listener_count(local: LocalStack, session_id: str, token: str) -> int:
    """The session's `listenerCount` as its owner reads it (`GET /sessions/{id}`)."""
    response = http(local, "GET", f"/sessions/{session_id}", token)
    assert response.status_code == 200, response.text
    count: int = response.json()["listenerCount"]
    return count


def settled_listener_count(local: LocalStack, session_id: str, token: str, expected: int) -> int:
    """The session's listenerCount once the gateway has run every `$disconnect` (it runs them after the socket
    closed): `expected`, or what it still is after 30 s."""
    import time

    deadline = time.monotonic() + 30
    while (count := listener_count(local, session_id, token)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return count
