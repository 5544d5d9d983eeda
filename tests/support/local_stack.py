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


def create_session(local: LocalStack, token: str, **body: Any) -> str:
    """Create a session over the stack's real HTTP API as the token's owner; its ID."""
    import requests

    assert local.urls is not None
    response = requests.post(
        f"{local.urls.http}/sessions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=15
    )
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
