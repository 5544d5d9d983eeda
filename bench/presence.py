"""Presence at join rate, through the local stack: listeners joining as fast as the machine allows while the
speaker broadcasts, run twice, the speaker on protocol version 3 (it gets `presenceChanged`) and on version 1 (it
does not: the same joins, the same conflation writes, no presence frames to it).

Printed: the presence notices the speaker got and the seconds they spread over (the least gap between two: at most
one a second), the delay from the last join's answer to the notice that counts every connection (the trailing
notice's delivery bound, measured), and the broadcast latency (send to a probe listener's receipt) during the joins.

`python -m bench presence [--listeners 500] [--wave 25]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench import _common

SMOKE_ARGS = ["--listeners", "6", "--wave", "3"]
BROADCAST_EVERY_SECONDS = 0.1


@dataclass
class Run:
    version: int
    notices: list[float] = field(default_factory=list)  # arrival times (monotonic)
    latencies_ms: list[float] = field(default_factory=list)
    exact_after_ms: float = float("nan")


async def _open(url: str) -> Any:
    from websockets.asyncio.client import connect

    return await connect(url, proxy=None, compression=None, open_timeout=30, max_size=None)


async def _next(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if message.get("type") == kind:
            return message


async def _run(stack: Any, listeners: int, wave: int, version: int) -> Run:
    from tests.support.local_stack import create_session

    token = stack.mint("bench-owner")
    session_id = create_session(stack, token, maxListeners=listeners + 10)

    def url(**query: str) -> str:
        return f"{stack.urls.ws}/?{urlencode({'sessionId': session_id, **query})}"

    run = Run(version)
    speaker = await _open(url(token=token, v=str(version)))
    await speaker.send(json.dumps({"action": "join"}))
    await _next(speaker, "joined")
    probe = await _open(url(v="3"))
    await probe.send(json.dumps({"action": "join"}))
    await _next(probe, "joined")
    total = listeners + 2
    everyone = asyncio.Event()
    sent_at: dict[int, float] = {}

    async def speaker_reads() -> None:
        while True:
            message = json.loads(await speaker.recv())
            if message.get("type") == "presenceChanged":
                run.notices.append(time.monotonic())
            counted = message.get("count", message.get("listenerCount", -1) + 1)
            if message.get("type") in ("presenceChanged", "listenerCount") and counted == total:
                everyone.set()

    async def probe_reads() -> None:
        while True:
            message = json.loads(await probe.recv())
            if message.get("type") == "broadcast" and message["data"] in sent_at:
                run.latencies_ms.append((time.monotonic() - sent_at[message["data"]]) * 1000)

    async def broadcasts(stop: asyncio.Event) -> None:
        k = 0
        while not stop.is_set():
            sent_at[k] = time.monotonic()
            await speaker.send(json.dumps({"action": "broadcast", "data": k}))
            k += 1
            await asyncio.sleep(BROADCAST_EVERY_SECONDS)

    async def joined() -> Any:
        ws = await _open(url(name="listener"))
        await ws.send(json.dumps({"action": "join"}))
        await _next(ws, "joined")
        return ws

    readers = [asyncio.create_task(speaker_reads()), asyncio.create_task(probe_reads())]
    stop = asyncio.Event()
    sender = asyncio.create_task(broadcasts(stop))
    sockets: list[Any] = []
    for start in range(0, listeners, wave):
        sockets += await asyncio.gather(*(joined() for _ in range(min(wave, listeners - start))))
    last_join = time.monotonic()
    stop.set()
    await sender
    await asyncio.wait_for(everyone.wait(), 60)
    run.exact_after_ms = (time.monotonic() - last_join) * 1000
    for task in readers:
        task.cancel()
    for ws in [*sockets, probe, speaker]:
        await ws.close()
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench presence")
    parser.add_argument("--listeners", type=int, default=500)
    parser.add_argument("--wave", type=int, default=25, help="listeners connecting at once")
    args = parser.parse_args(argv)
    _common.prepare()
    from session_protocol import versions

    from local.stack import LocalStack

    runs: list[Run] = []
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING"}  # a log line per frame would time the terminal
    with LocalStack(http_port=0, ws_port=0, state_dir=None, sweep_interval=None, settings_overrides=quiet) as stack:
        for version in (versions.PRESENCE, versions.FIRST):
            runs.append(asyncio.run(_run(stack, args.listeners, args.wave, version)))
    rows = []
    for run in runs:
        gaps = [b - a for a, b in zip(run.notices, run.notices[1:], strict=False)]
        spread = run.notices[-1] - run.notices[0] if len(run.notices) > 1 else 0.0
        rows.append(
            [
                f"v{run.version}" + (" (presenceChanged)" if run.version >= 3 else " (no presence frames)"),
                len(run.notices),
                spread,
                min(gaps) * 1000 if gaps else float("nan"),
                run.exact_after_ms,
                len(run.latencies_ms),
                _common.percentile(run.latencies_ms, 50),
                _common.percentile(run.latencies_ms, 99),
            ]
        )
        # Sent at most one a second; received, a post delayed on a loaded machine may land closer to the next one.
        if len(run.notices) > math.ceil(spread) + 1:
            print(f"{len(run.notices)} presence notices over {spread:.1f} s: not conflated")
            return 1
    print(
        _common.table(
            f"presence: {args.listeners} listeners joining, {args.wave} at a time",
            [
                "speaker",
                "notices",
                "over s",
                "least gap ms",
                "last join to exact ms",
                "broadcasts",
                "p50 ms",
                "p99 ms",
            ],
            rows,
            notes=[
                "notices: presenceChanged frames the speaker got during the joins, over that many seconds (at most one"
                " sent a second; least gap: between two arrivals, which a post delayed by a loaded machine shortens)",
                "last join to exact: from the last listener's `joined` to the speaker's notice counting everyone (the"
                " trailing notice through the local notice queue: its whole-second delay, then the worker)",
                "p50/p99: a broadcast every 100 ms during the joins, from its send to a probe listener's receipt",
                _common.machine(),
            ],
        )
    )
    return 0
