"""A sharded broadcast through the local stack (real sockets, the fan-out worker in its own pool, invoked
asynchronously through the local Lambda Invoke API): with a small FANOUT_SHARD_THRESHOLD, ten listeners
are split over three shards; the speaker's answer counts only its own shard, and every listener still gets
every broadcast exactly once, in seq order."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.local_stack import create_session, next_of_type, open_ws, running_local_stack, ws_url

pytestmark = pytest.mark.e2e

LISTENERS = 10
BROADCASTS = 3


async def _scenario(stack) -> tuple[list[int], list[list[int]], list[int]]:
    token = stack.mint("shard-owner")
    session_id = await asyncio.to_thread(create_session, stack, token, maxListeners=20)
    speaker = await open_ws(ws_url(stack, session_id, token))
    listeners = [await open_ws(ws_url(stack, session_id)) for _ in range(LISTENERS)]
    received: list[list[int]] = [[] for _ in listeners]
    seqs, delivered = [], []
    for n in range(BROADCASTS):
        await speaker.send(json.dumps({"action": "broadcast", "data": n}))
        answer = await next_of_type(speaker, "broadcastSent")
        seqs.append(answer["seq"])
        delivered.append(answer["delivered"])
        for i, ws in enumerate(listeners):  # each broadcast reaches everyone before the next is sent
            received[i].append((await next_of_type(ws, "broadcast"))["seq"])
    await asyncio.sleep(0.5)  # a duplicate would have arrived by now
    for i, ws in enumerate(listeners):
        while True:
            try:
                extra = json.loads(await asyncio.wait_for(ws.recv(), timeout=0.05))
            except TimeoutError:
                break
            if extra.get("type") == "broadcast":
                received[i].append(extra["seq"])
    for ws in [speaker, *listeners]:
        await ws.close()
    return seqs, received, delivered


def test_a_sharded_broadcast_reaches_every_listener_once_in_seq_order():
    with running_local_stack(settings_overrides={"FANOUT_SHARD_THRESHOLD": "4"}) as stack:
        seqs, received, delivered = asyncio.run(_scenario(stack))
    assert seqs == sorted(seqs) and len(set(seqs)) == BROADCASTS
    assert all(got == seqs for got in received), received  # exactly once each, in seq order
    # 10 listeners + the speaker over a threshold of 4: 3 shards; the speaker's invocation served only
    # its own, so the rest were delivered by the worker's invocations.
    assert all(count < LISTENERS for count in delivered), delivered
