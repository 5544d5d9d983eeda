"""A TCP server that accepts every connection and never answers: a hung dependency (DynamoDB, S3...); the
handlers' runtime as deployed with DynamoDB pointed at it, and the bound the handlers must answer within."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.http_events import AUDIENCE, ISSUER_URL

BOUND_SECONDS = 10.0  # the issue's bound; API Gateway's own is 29 s
SESSION_ID = "quiet-river-482"


@contextmanager
def hung_server() -> Iterator[str]:
    """`http://127.0.0.1:<port>`: connections are accepted (so connecting succeeds) and held, unread."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, name="hung-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for sock in held:
            sock.close()
        listener.close()


@contextmanager
def hung_dynamodb_runtime(monkeypatch: Any, issuer: Any) -> Iterator[Any]:
    """The handlers' runtime as deployed (their own boto3 clients, AWS_CLIENT_CONFIG's timeouts and retry,
    built from the settings) with only the DynamoDB endpoint pointed at a hung server; no moto."""
    from session_runtime.auth import TokenVerifier, clear_jwks_cache
    from session_runtime.runtime import build_runtime, get_runtime

    from tests.support.fakes import FakeManagementApi

    with hung_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
        clear_jwks_cache()
        rt = build_runtime()  # the deployed clients: AWS_CLIENT_CONFIG's timeouts and retry
        rt.management = rt.connections = FakeManagementApi()
        rt.verifier = TokenVerifier(ISSUER_URL, AUDIENCE, issuer.jwks_url, fetch_jwks=lambda _: issuer.jwks())
        with get_runtime.override(rt):
            yield rt


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started
