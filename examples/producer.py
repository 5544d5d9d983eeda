"""A producer: creates a session as its owner, joins it as the speaker and publishes broadcasts to it.

With `make dev` running, from the repository root:

    TOKEN=$(.venv/bin/python -m local token alice)
    printf 'first\nsecond\n' | .venv/bin/python examples/producer.py --token "$TOKEN" --wait-listeners 1 --end

It prints the session's ID first (give it to listeners: `examples/listener.html?session=<ID>`), then one line
per broadcast as the server acknowledged it (`seq`, how many listeners it reached). Each line of standard
input is one broadcast, `{"text": <line>}`. Against a deployed stack, pass `--http-url` and `--ws-url` (the
stack's `HttpApiUrl` and `WebSocketUrl` outputs) and a Cognito ID token.

It needs the Python client (`clients/python`, `live-sessions-client`; `make dev` installs it) and the standard
library; the HTTP call is plain `urllib`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from typing import Any

from live_sessions_client import connect


def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def create_session(http_url: str, token: str, title: str) -> str:
    """POST /sessions as the token's user; the new session's ID."""
    session_id: str = _call("POST", f"{http_url}/sessions", token, {"title": title})["sessionId"]
    return session_id


def wait_for_listeners(http_url: str, token: str, session_id: str, count: int, timeout: float) -> None:
    """Until the session has `count` listeners, whenever they joined (GET /sessions/{id} has the count)."""
    deadline = time.monotonic() + timeout
    while _call("GET", f"{http_url}/sessions/{session_id}", token)["listenerCount"] < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"fewer than {count} listeners joined {session_id} in {timeout:.0f} s")
        time.sleep(0.2)


async def publish(args: argparse.Namespace, session_id: str, lines: list[str]) -> None:
    # The owner's token joins as the speaker; the client resumes and retries on its own.
    async with await connect(args.ws_url, session_id, args.token) as speaker:
        for line in lines:
            sent: dict[str, Any] = await speaker.request("broadcast", expect="broadcastSent", data={"text": line})
            print(json.dumps({"seq": sent["seq"], "delivered": sent["delivered"], "text": line}), flush=True)
        if args.end:
            await speaker.request("end", expect=("sessionUpdated", "sessionEnded"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="examples/producer.py", description=__doc__.splitlines()[0])
    parser.add_argument("--http-url", default="http://127.0.0.1:3000")
    parser.add_argument("--ws-url", default="ws://127.0.0.1:3001")
    parser.add_argument("--token", required=True, help="the signed-in user's token: the session's owner")
    parser.add_argument("--title", default="Producer example")
    parser.add_argument("--wait-listeners", type=int, default=0, help="publish once this many listeners joined")
    parser.add_argument("--wait-timeout", type=float, default=60.0, help="seconds to wait for them")
    parser.add_argument("--end", action="store_true", help="end the session after the last broadcast")
    args = parser.parse_args(argv)
    session_id = create_session(args.http_url, args.token, args.title)
    print(session_id, flush=True)
    lines = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if args.wait_listeners:
        wait_for_listeners(args.http_url, args.token, session_id, args.wait_listeners, args.wait_timeout)
    asyncio.run(publish(args, session_id, lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
