"""The `@connections` management API's rules (local/apigw/management.py) against a fake backend, no socket:
what each method answers, and API Gateway's errors for a bad ID, a gone connection, a full client buffer,
a message too long and a method the API does not have."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from local.apigw.http_api_events import HttpResponse
from local.apigw.management import (
    MAX_POST_BYTES,
    ClientBufferFull,
    ConnectionGone,
    ManagementBackend,
    answer_management,
    handle_management,
)

LIVE = "L0SM9cOFvHcCIhw="


class FakeBackend(ManagementBackend):
    def __init__(self, full: bool = False, running: bool = True) -> None:
        self.posts: list[tuple[str, bytes]] = []
        self.deleted: list[str] = []
        self.full, self.running = full, running

    def _live(self, connection_id: str) -> None:
        if connection_id != LIVE:
            raise ConnectionGone(connection_id)

    async def post(self, connection_id: str, data: bytes) -> None:
        self._live(connection_id)
        if self.full:
            raise ClientBufferFull(connection_id)
        self.posts.append((connection_id, data))

    async def delete(self, connection_id: str) -> None:
        self._live(connection_id)
        self.deleted.append(connection_id)

    def describe(self, connection_id: str) -> dict[str, Any]:
        self._live(connection_id)
        return {"connectedAt": "2023-11-14T22:13:20.000Z", "identity": {"sourceIp": "203.0.113.7"}}

    def run(self, coroutine: Any) -> Any:
        if not self.running:
            coroutine.close()
            raise ConnectionGone("not running")
        return asyncio.run(coroutine)


def _answer(backend: FakeBackend, method: str, connection_id: str, body: bytes = b"") -> HttpResponse:
    return asyncio.run(answer_management(backend, method, connection_id, body))


def _error_type(response: HttpResponse) -> str | None:
    return dict(response.headers).get("x-amzn-errortype")


def test_post_delete_and_get_reach_the_backend() -> None:
    backend = FakeBackend()
    posted = _answer(backend, "POST", LIVE, b'{"type":"message"}')
    assert posted.status == 200 and backend.posts == [(LIVE, b'{"type":"message"}')]
    assert dict(posted.headers)["x-amzn-requestid"]
    assert _answer(backend, "DELETE", LIVE).status == 204 and backend.deleted == [LIVE]
    described = _answer(backend, "GET", LIVE)
    assert described.status == 200 and json.loads(described.body)["identity"] == {"sourceIp": "203.0.113.7"}


@pytest.mark.parametrize("method", ["POST", "DELETE", "GET"])
def test_an_unknown_connection_is_gone(method: str) -> None:
    response = _answer(FakeBackend(), method, "AAAAAAAAAAAAAAA=")
    assert (response.status, _error_type(response)) == (410, "GoneException")


def test_errors_as_api_gateway_answers_them() -> None:
    backend = FakeBackend()
    bad = _answer(backend, "POST", "not a/valid id")
    assert (bad.status, _error_type(bad)) == (400, "BadRequestException")
    too_long = _answer(backend, "POST", LIVE, b"x" * (MAX_POST_BYTES + 1))
    assert (too_long.status, _error_type(too_long)) == (413, "PayloadTooLargeException")
    assert _answer(backend, "POST", LIVE, b"x" * MAX_POST_BYTES).status == 200
    full = _answer(FakeBackend(full=True), "POST", LIVE, b"{}")
    assert (full.status, _error_type(full)) == (429, "LimitExceededException")
    patch = _answer(backend, "PATCH", LIVE)
    assert (patch.status, _error_type(patch)) == (403, "ForbiddenException")
    assert backend.posts == [(LIVE, b"x" * MAX_POST_BYTES)]


def test_from_another_thread_a_gateway_that_is_not_running_means_gone() -> None:
    assert handle_management(FakeBackend(), "POST", LIVE, b"{}").status == 200
    stopped = handle_management(FakeBackend(running=False), "POST", LIVE, b"{}")
    assert (stopped.status, _error_type(stopped)) == (410, "GoneException")
