"""Publishers racing for one session's stream, through the local stack: how many writes each publish takes.

Every stream event is numbered and kept by one transaction conditional on the head it read
(session_runtime/stream.py); a publish that lost the race drafts again from the head it met. Two publishers, the
speaker's broadcasts (WebSocket) and the owner's messages (HTTP), at `--rate` events a second each for
`--seconds`, against a DynamoDB (moto server) that records every request: the TransactWriteItems per publish
are the writes each took (1: no race lost). The stream is checked after: every seq kept once, none missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from ._common import prepare, table

SMOKE_ARGS = ["--seconds", "1"]  # tests/bench: every benchmark runs once at a tiny size


async def _paced(rate: float, seconds: float, publish: Any) -> int:
    """Publish at `rate` a second for `seconds` (each waits for its answer): how many were acknowledged (a
    refusal, such as a 503 when the table answered late, is not)."""
    done, tried, next_at, deadline = 0, 0, time.monotonic(), time.monotonic() + seconds
    while next_at < deadline:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        done += bool(await publish(tried))
        tried += 1
        next_at += 1 / rate
    return done


async def _race(stack: Any, session_id: str, rate: float, seconds: float) -> tuple[int, int]:
    import requests

    from tests.support.local_stack import open_ws, ws_url

    token = stack.mint("alice")
    speaker = await open_ws(ws_url(stack, session_id, token))

    async def broadcast(i: int) -> bool:
        await speaker.send(json.dumps({"action": "broadcast", "data": i, "id": str(i)}))
        while True:
            answer = json.loads(await speaker.recv())
            if answer.get("id") == str(i):
                return bool(answer.get("type") == "broadcastSent")

    def post(i: int) -> bool:
        answer = requests.post(
            f"{stack.urls.http}/sessions/{session_id}/messages",
            json={"text": f"m{i}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return bool(answer.status_code == 201)

    async def message(i: int) -> bool:
        return await asyncio.to_thread(post, i)

    try:
        broadcasts, messages = await asyncio.gather(_paced(rate, seconds, broadcast), _paced(rate, seconds, message))
    finally:
        await speaker.close()
    return broadcasts, messages


def _kept_seqs(stack: Any, session_id: str) -> list[int]:
    import requests

    seqs: list[int] = []
    since = 0
    while True:
        page = requests.get(
            f"{stack.urls.http}/sessions/{session_id}/events", params={"sinceSeq": since}, timeout=30
        ).json()
        assert page["recovered"] is True, page
        seqs += [event["seq"] for event in page["items"]]
        if page["nextSinceSeq"] is None:
            return seqs
        since = page["nextSinceSeq"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench races")
    parser.add_argument("--rate", type=float, default=20.0, help="events a second, per publisher")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    prepare()
    from tests.support.local_stack import create_session, running_local_stack
    from tests.support.other_dynamodb import OtherDynamoDb

    names = {"table_name": f"races-{uuid.uuid4().hex[:8]}", "bucket_name": f"races-{uuid.uuid4().hex[:8]}"}
    with OtherDynamoDb() as dynamodb, running_local_stack(dynamodb_endpoint=dynamodb.url, **names) as stack:
        session_id = create_session(stack, stack.mint("alice"))
        before = len(dynamodb.requests)
        broadcasts, messages = asyncio.run(_race(stack, session_id, args.rate, args.seconds))
        during = dynamodb.requests[before:]
        seqs = _kept_seqs(stack, session_id)
    writes = sum(1 for r in during if r["operation"] == "TransactWriteItems") - 1  # the speaker's $connect
    kept = len(seqs)
    published = broadcasts + messages
    # No hole, and every acknowledged publish kept (a refused one may have been kept too: its outcome was unknown).
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= published, (published, len(seqs))
    print(
        table(
            f"Two publishers at {args.rate:g}/s each for {args.seconds:g} s, one session (local stack, moto server)",
            ["acknowledged", "broadcasts", "messages", "kept", "transactions", "writes per kept event", "races lost"],
            [[published, broadcasts, messages, kept, writes, f"{writes / max(1, kept):.3f}", writes - kept]],
            [
                f"the stream after: seqs 1..{kept} each kept once, no hole (GET /events); every acknowledged one kept",
                "a lost race is handed the head it met (no extra read) and writes again after a jittered wait, at "
                "most MAX_PUBLISH_ATTEMPTS writes (session_runtime/stream.py)",
            ],
        )
    )
    return 0
