"""S3's notifications, locally (local/s3/notifications.py): delivered at least once, as S3 does, even when the
local Lambda service's Invoke API is busy for a moment."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local.s3.notifications import NOTIFY_ATTEMPTS, _invoke_async

EVENT = {"Records": [{"s3": {"object": {"key": "sessions/quiet-river-482/artifacts/a1"}}}]}


class _Busy(BaseHTTPRequestHandler):
    """An Invoke API that answers 503 to its first `busy` requests, then takes the event (202)."""

    busy = 0
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        self.send_response(503 if len(type(self).received) <= type(self).busy else 202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def invoke_api() -> Iterator[tuple[str, type[_Busy]]]:
    handler = type("Busy", (_Busy,), {"busy": 0, "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/2015-03-31/functions/UploadFunction/invocations", handler
    server.shutdown()


def test_a_notification_the_busy_invoke_api_refused_is_sent_again_until_taken(invoke_api) -> None:
    url, handler = invoke_api
    handler.busy = 2
    pauses: list[float] = []
    _invoke_async(url, EVENT, pause=pauses.append)
    assert handler.received == [EVENT] * 3  # refused twice, taken the third time, then no more
    assert len(pauses) == 2 and pauses == sorted(pauses)  # a little later each time


def test_a_notification_is_given_up_after_the_last_attempt(invoke_api) -> None:
    url, handler = invoke_api
    handler.busy = 100
    _invoke_async(url, EVENT, pause=lambda _: None)
    assert len(handler.received) == NOTIFY_ATTEMPTS
