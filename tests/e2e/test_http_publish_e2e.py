"""Publishing over HTTP through the local stack, with real sockets and a real SigV4-signed producer: the owner's
`POST /sessions/{id}/broadcasts` and the producers' `POST /iam/sessions/{id}/broadcasts`, signed by botocore with
what `python -m local credentials` prints and verified by the local gateway (no bypass)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from local.stack import LocalStack
from tests.support.local_stack import create_session, http, open_ws, running_local_stack, ws_url
from tests.support.sigv4 import printed_credentials, signed_post

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack():
    with running_local_stack() as local:
        yield local


def _events(count: int, first: int = 0) -> dict[str, Any]:
    return {"events": [{"data": {"line": first + index}} for index in range(count)]}


async def _listen(stack: LocalStack, session_id: str, version: int | None) -> Any:
    url = ws_url(stack, session_id) + (f"&v={version}" if version else "")
    ws = await open_ws(url)
    await ws.send(json.dumps({"action": "join"}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "joined"
    return ws


async def _frames(ws: Any, count: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(count)]


async def _quiet(ws: Any) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), 0.5)
    except TimeoutError:
        return True
    return False


def test_five_events_of_one_publish_reach_a_v2_listener_in_one_batch_frame_and_a_v1_listener_in_five(stack):
    token = stack.mint("owner")
    session_id = create_session(stack, token)

    async def scenario() -> None:
        v2, v1 = await _listen(stack, session_id, 2), await _listen(stack, session_id, None)
        path = f"/sessions/{session_id}/broadcasts"
        answer = await asyncio.to_thread(http, stack, "POST", path, token, json=_events(5))
        assert answer.status_code == 201, answer.text
        assert answer.json() == {"items": [{"channel": None, "seq": seq} for seq in range(1, 6)]}
        (batch,) = await _frames(v2, 1)
        assert batch["type"] == "batch"
        assert [(e["type"], e["seq"], e["data"]["line"]) for e in batch["events"]] == [
            ("broadcast", seq, seq - 1) for seq in range(1, 6)
        ]
        assert await _frames(v1, 5) == batch["events"]
        assert await _quiet(v2) and await _quiet(v1)
        await v2.close()
        await v1.close()

    asyncio.run(scenario())


def test_a_producer_signing_with_local_credentials_publishes_and_others_are_refused_403(stack):
    token = stack.mint("owner")
    session_id = create_session(stack, token)
    assert stack.urls is not None
    url = f"{stack.urls.http}/iam/sessions/{session_id}/broadcasts"
    publisher = printed_credentials(stack.state_dir)

    async def scenario() -> None:
        listener = await _listen(stack, session_id, 2)
        answer = await asyncio.to_thread(signed_post, url, _events(2), publisher)
        assert answer.status_code == 201, answer.text
        assert answer.json() == {"items": [{"channel": None, "seq": 1}, {"channel": None, "seq": 2}]}
        (batch,) = await _frames(listener, 1)
        assert [e["data"]["line"] for e in batch["events"]] == [0, 1]
        await listener.close()

    asyncio.run(scenario())

    unsigned = http(stack, "POST", f"/iam/sessions/{session_id}/broadcasts", json=_events(1))
    wrong = signed_post(url, _events(1), {**publisher, "secretAccessKey": "not-" + publisher["secretAccessKey"]})
    not_granted = signed_post(url, _events(1), printed_credentials(stack.state_dir, "someone-else"))
    assert (unsigned.status_code, unsigned.json()) == (403, {"message": "Forbidden"})
    assert wrong.status_code == 403 and wrong.json()["message"].startswith("The request signature we calculated")
    assert not_granted.status_code == 403 and not_granted.json()["error"]["code"] == "FORBIDDEN"
    session = http(stack, "GET", f"/sessions/{session_id}", token).json()
    assert session["seq"] == 2  # none of the refused ones published
