"""A sharded broadcast through the local stack (real sockets, the fan-out worker in its own pool, invoked
asynchronously through the local Lambda Invoke API): with a small FANOUT_SHARD_THRESHOLD, ten listeners
are split over three shards; the speaker's answer counts only its own shard, and every listener still gets
every broadcast exactly once, in seq order. A shard that fails (the worker's fault hook, tests/support/lambda_faults.py)
is retried by the local Invoke API as Lambda retries it, without a duplicate; past its retries its record
lands where the CDK stack sends it (the dead-letter queue's stand-in), counted and logged."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

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


# -- a shard that fails ----------------------------------------------------------------------------------

SHARDS = 3  # 10 listeners and the speaker over FANOUT_SHARD_THRESHOLD 4


def _in_shard(session_id: str, connection_id: str, shard: int, shards: int) -> bool:
    from session_schema.keys import CONN_PREFIX, connection_shard_range

    low, high = connection_shard_range(session_id, shard, shards)
    return low <= CONN_PREFIX + connection_id < high


async def _collect(ws: Any, into: list[int]) -> None:
    """Append every broadcast's seq arriving on `ws` to `into` (until cancelled or closed)."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "broadcast":
                into.append(message["seq"])


async def _until(condition: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not delivered in time"
        await asyncio.sleep(0.05)


async def _failing_scenario(stack, faults: Path) -> tuple[list[int], dict[str, list[int]], set[str]]:
    """The first broadcast's attempt at one remote shard fails once; the second's at one fails three times
    (each a remote shard holding listeners: the IDs are random, so which is chosen once they are known)."""
    token = stack.mint("shard-owner")
    session_id = await asyncio.to_thread(create_session, stack, token, maxListeners=20)
    speaker = await open_ws(ws_url(stack, session_id, token))
    listeners = [await open_ws(ws_url(stack, session_id)) for _ in range(LISTENERS)]
    received: dict[str, list[int]] = {}
    for ws in listeners:
        await ws.send(json.dumps({"action": "join"}))
        received[(await next_of_type(ws, "joined"))["connectionId"]] = []
    remote = [k for k in range(1, SHARDS) if any(_in_shard(session_id, cid, k, SHARDS) for cid in received)]
    fails_once, fails_always = remote[0], remote[-1]
    (faults / f"fail-seq1-shard{fails_once}").write_text("1")
    (faults / f"fail-seq2-shard{fails_always}").write_text("3")
    lost = {cid for cid in received if _in_shard(session_id, cid, fails_always, SHARDS)}
    readers = [asyncio.create_task(_collect(ws, got)) for ws, got in zip(listeners, received.values(), strict=True)]
    seqs = []
    for n in range(BROADCASTS):
        await speaker.send(json.dumps({"action": "broadcast", "data": n}))
        seqs.append((await next_of_type(speaker, "broadcastSent"))["seq"])
        if n == 1:  # the given-up shard's three tries (a second, then two, apart) end in its record
            await _until(lambda: stack.lambda_api.failures)
        # Every listener that will get it has it before the next broadcast (the retried shard after its wait).
        await _until(lambda n=n: all(seqs[n] in got for cid, got in received.items() if n != 1 or cid not in lost))
    await asyncio.sleep(0.5)  # a duplicate would have arrived by now
    for task in readers:
        task.cancel()
    for ws in [speaker, *listeners]:
        await ws.close()
    return seqs, received, lost


def test_a_failing_shard_is_retried_without_a_duplicate_and_past_its_retries_is_kept_and_counted(tmp_path, monkeypatch):
    from local.lambda_service.lambda_pools import HandlerSpec

    monkeypatch.setenv("TEST_FANOUT_FAULTS", str(tmp_path))  # read by the worker processes' fault hook
    logs = tmp_path / "workers.log"
    with (
        logs.open("w") as output,
        running_local_stack(
            settings_overrides={"FANOUT_SHARD_THRESHOLD": "4"},
            handlers=HandlerSpec(fanout_worker="tests.support.lambda_faults.fanout_worker"),
            worker_output=output.fileno(),
        ) as stack,
    ):
        seqs, received, lost = asyncio.run(_failing_scenario(stack, tmp_path))
        failures, counts = list(stack.lambda_api.failures), dict(stack.lambda_api.counts)
    assert seqs == [1, 2, 3]
    assert lost and len(lost) < LISTENERS
    for cid, got in received.items():
        # The retried shard's listeners got the first broadcast once (the retry repeated nothing); the
        # given-up shard's missed the second (they recover it by seq), never a duplicate, always in order.
        assert got == ([1, 3] if cid in lost else [1, 2, 3]), (cid, got)
    # The given-up shard is kept where the CDK stack sends it (the dead-letter queue's stand-in) and counted.
    (record,) = failures
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    job = record["requestPayload"]
    assert job["payloads"][0]["seq"] == 2 and job["shards"] == SHARDS
    assert {cid for cid in received if _in_shard(job["sessionId"], cid, job["shard"], SHARDS)} == lost
    assert counts == {"Retried": 3, "AsyncEventsDropped": 1}  # one retry of the first, two of the second
    text = (tmp_path / "workers.log").read_text()
    assert text.count("a fan-out shard failed; Lambda retries it") == 4  # each failed attempt logged
