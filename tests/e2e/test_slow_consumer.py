"""A listener that stops reading, through the local stack (real sockets): its buffer fills, the gateway
answers its posts 429 at once (as API Gateway does), the fan-out counts the failures and closes and
unregisters it, and the other listeners' broadcast latency comes back to what it was; meanwhile no
broadcast answer waited on it longer than the stated bound (docs/architecture.md, "Slow and failing connections")."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection

from session_schema.settings import SETTINGS_BY_ENV

from tests.support.local_stack import create_session, open_ws, running_local_stack, ws_url

pytestmark = pytest.mark.e2e

POST_BOUND = int(SETTINGS_BY_ENV["FANOUT_POST_TIMEOUT_MS"].default or 0) / 1000
STRIKES = int(SETTINGS_BY_ENV["FANOUT_STRIKES_TO_CLOSE"].default or 0)
DATA = "x" * 24_000  # large broadcasts fill a stuck client's buffer in a few
READERS = 3


@pytest.fixture(scope="module")
def stack():
    with running_local_stack() as local:
        yield local


async def _stuck_listener(url: str) -> ClientConnection:
    """A client that never reads: a small receive buffer and a one-message queue, so the websockets
    library stops reading the socket almost at once (as a frozen browser tab would)."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    return await open_ws(url, sock=sock, max_queue=1)


class Reader:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.seqs, self.latencies = ws, [], []
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message.get("type") == "broadcast":
                self.seqs.append(message["seq"])
                self.latencies.append(time.perf_counter() - float(message["data"].split(":")[0]))


async def _scenario(stack) -> dict[str, Any]:
    token = stack.mint("slow-owner")
    session_id = await asyncio.to_thread(create_session, stack, token, maxListeners=10)
    speaker = await open_ws(ws_url(stack, session_id, token))
    readers = [Reader(await open_ws(ws_url(stack, session_id))) for _ in range(READERS)]
    stuck = await _stuck_listener(ws_url(stack, session_id))
    counts: list[int] = []

    async def broadcast() -> float:
        started = time.perf_counter()
        await speaker.send(json.dumps({"action": "broadcast", "data": f"{started}:{DATA}"}))
        while True:
            message = json.loads(await asyncio.wait_for(speaker.recv(), 30))
            if message["type"] == "listenerCount":
                counts.append(message["listenerCount"])
            elif message["type"] == "broadcastSent":
                return time.perf_counter() - started
            else:
                assert message["type"] != "error", message

    before = [await broadcast() for _ in range(3)]  # the stuck client's buffer still takes these
    during = []
    while not counts or counts[-1] != READERS:  # until the speaker hears the stuck listener left
        during.append(await broadcast())
        assert len(during) < 40, f"the stuck listener was never closed: {counts}"
    for _ in range(20):  # the reading listeners' receipts catch up
        if all(len(r.seqs) == len(before) + len(during) for r in readers):
            break
        await asyncio.sleep(0.1)
    marks = [len(r.latencies) for r in readers]
    after = [await broadcast() for _ in range(5)]
    await asyncio.sleep(0.3)
    result = {
        "before": before,
        "during": during,
        "after": after,
        "reader_seqs": [r.seqs for r in readers],
        "reader_after": [r.latencies[m:] for r, m in zip(readers, marks, strict=True)],
        "reader_before": [r.latencies[: len(before)] for r in readers],
        "stuck_state": stuck.state.name,
    }
    for ws in (speaker, *(r.ws for r in readers)):
        await ws.close()
    stuck.transport.abort()
    return result


def test_a_listener_that_stops_reading_is_closed_and_the_others_latency_recovers(stack):
    result = asyncio.run(_scenario(stack))
    total = len(result["before"]) + len(result["during"]) + len(result["after"])
    # Every reading listener got every broadcast exactly once, in seq order.
    for seqs in result["reader_seqs"]:
        assert seqs == sorted(set(seqs)) and len(seqs) == total
    # The stuck listener was closed after its strikes, within a few broadcasts of its buffer filling.
    assert len(result["during"]) <= 12
    # No answer waited on it past the stated bound (one post, then one close, each bounded).
    assert max(result["during"]) < 2 * POST_BOUND + 1.0
    # Once it is gone, the answers and the readers' latency are back near what they were before.
    baseline = statistics.median(result["before"])
    assert statistics.median(result["after"]) < max(3 * baseline, 0.5), result
    reader_baseline = statistics.median(x for xs in result["reader_before"] for x in xs)
    reader_after = statistics.median(x for xs in result["reader_after"] for x in xs)
    assert reader_after < max(3 * reader_baseline, 0.5), (reader_baseline, reader_after)
