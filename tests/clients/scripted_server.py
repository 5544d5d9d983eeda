"""The scripted server of tests/clients/scripted_cases.json, for the Python client: a real WebSocket server on a
free port (so refused, reset and dropped handshakes are real ones), playing one script per handshake, and the
app side that connects a LiveSession to it and records what the app sees. The table's `about` says the grammar."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from live_sessions_client import BackoffOptions, LiveSession, LiveSessionError, StateChange
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

CASES_FILE = Path(__file__).with_name("scripted_cases.json")
TABLE: dict[str, Any] = json.loads(CASES_FILE.read_text())
SAFETY_TIMEOUT = 20.0  # a case that never reaches its end fails here instead of hanging the suite


def frame(spec: Any) -> Any:
    """A bare number n is the broadcast of seq n, "es:n" that of seq n in channel es's stream; a `session` is merged
    over the default view; batches nest."""
    if isinstance(spec, int):
        return {"type": "broadcast", "data": spec, "ts": 1, "seq": spec}
    if isinstance(spec, str):
        channel, seq = spec.split(":")
        return {"type": "broadcast", "data": spec, "ts": 1, "seq": int(seq), "channel": channel}
    if isinstance(spec, dict):
        built = dict(spec)
        if isinstance(built.get("session"), dict):
            built["session"] = {**TABLE["session"], **built["session"]}
        if isinstance(built.get("events"), list):
            built["events"] = [frame(event) for event in built["events"]]
        return built
    return spec


@dataclass
class ScriptedServer:
    scripts: list[dict[str, Any]]
    queries: list[dict[str, str]] = field(default_factory=list)
    sent: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        index = len(self.queries)
        self.queries.append(dict(parse_qsl(urlsplit(request.path).query)))
        if index >= len(self.scripts):
            self.problems.append(f"handshake {index + 1} was not scripted")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "not scripted\n")
        script = self.scripts[index]
        connection.script = script  # type: ignore[attr-defined]
        if index == len(self.scripts) - 1 and "steps" not in script:
            self.done.set()
        if script["handshake"] == "reset":
            connection.transport.abort()  # accepted, then nothing: no HTTP answer at all
            return connection.respond(HTTPStatus.BAD_GATEWAY, "")
        if script["handshake"] == 101:
            return None
        body = json.dumps({"error": {"code": script.get("code", "X"), "message": "scripted", "requestId": "r"}})
        headers = Headers({"Content-Type": "application/json"})
        if "retryAfter" in script:
            headers["Retry-After"] = str(script["retryAfter"])
        response = connection.protocol.reject(script["handshake"], body)
        response.headers.update(headers)
        return response

    async def handler(self, ws: ServerConnection) -> None:
        script: dict[str, Any] = ws.script  # type: ignore[attr-defined]
        inbox: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        reader = asyncio.create_task(self._read(ws, inbox))
        try:
            for step in script["steps"]:
                if not await self._step(ws, step, inbox, reader):
                    break
            if script is self.scripts[-1]:
                self.done.set()
            await reader
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()

    async def _read(self, ws: ServerConnection, inbox: dict[str, asyncio.Queue[dict[str, Any]]]) -> None:
        async for raw in ws:
            action = json.loads(raw)
            self.sent[action["action"]] += 1
            if action["action"] == "ping":
                await ws.send(json.dumps({"type": "pong", "ts": 1, "id": action["id"]}))
            else:
                inbox[action["action"]].put_nowait(action)

    async def _step(
        self, ws: ServerConnection, step: dict[str, Any], inbox: dict[str, Any], reader: asyncio.Task[None]
    ) -> bool:
        if step.get("drop"):
            ws.transport.abort()
            return False
        if "push" in step:
            for spec in step["push"]:
                await ws.send(json.dumps(frame(spec)))
            return True
        action = "join" if "join" in step else step["await"]
        arrival = asyncio.ensure_future(inbox[action].get())
        await asyncio.wait({arrival, reader}, return_when=asyncio.FIRST_COMPLETED)
        if not arrival.done():  # the client closed the connection without sending it: the script ends here
            arrival.cancel()
            return False
        received = arrival.result()
        for name, value in (step.get("expect") or {}).items():
            if received.get(name) != value:
                self.problems.append(f"{action} carried {name}={received.get(name)!r}, not {value!r}")
        for spec in step.get("before", []):  # frames that overtake the answer
            await ws.send(json.dumps(frame(spec)))
        answer = self._joined(step["join"]) if "join" in step else frame(step.get("answer"))
        if answer is not None:
            if "type" in answer:
                answer["id"] = received["id"]
            await ws.send(json.dumps(answer))
        return True

    def _joined(self, fields: dict[str, Any]) -> dict[str, Any]:
        joined = {"type": "joined", "role": "listener", "connectionId": f"c{len(self.queries)}", **fields}
        return frame({**joined, "session": fields.get("session", {})})


@dataclass
class AppSaw:
    delivered: list[int | str] = field(default_factory=list)  # "es:n": seq n of channel es's stream
    resets: int = 0
    closed: str | None = None
    closed_by_itself = False  # before the test closed it
    states: list[StateChange] = field(default_factory=list)
    state_errors: list[str] = field(default_factory=list)  # the error codes the state changes carried, until the end
    call_results: list[Any] = field(default_factory=list)
    pushed: list[dict[str, Any]] = field(default_factory=list)  # the frames given to the app that are not stream events


def _token_source(spec: Any) -> Any:
    if not isinstance(spec, list):
        return spec
    given = iter(spec)
    last: list[str] = []

    async def provider() -> str:
        last[:] = [next(given, last[0] if last else "")]
        return last[0]

    return provider


def _argument(spec: Any) -> Any:
    return "x" * spec["$bytes"] if isinstance(spec, dict) and "$bytes" in spec else spec


async def run_case(case: dict[str, Any]) -> tuple[ScriptedServer, AppSaw]:
    server = ScriptedServer(case["server"])
    saw = AppSaw()
    expect, app, options = case["expect"], case.get("app", {}), TABLE["clientOptions"]
    async with serve(server.handler, "127.0.0.1", 0, process_request=server.process_request) as running:
        port = running.sockets[0].getsockname()[1]
        live = LiveSession(
            f"ws://127.0.0.1:{port}",
            TABLE["session"]["sessionId"],
            token=_token_source(app.get("token")),
            channel=app.get("channel"),
            name=app.get("name"),
            backoff=BackoffOptions(initial=options["backoffInitialMs"] / 1000, max=options["backoffMaxMs"] / 1000),
            full_backoff=BackoffOptions(
                initial=options["fullBackoffInitialMs"] / 1000, max=options["fullBackoffMaxMs"] / 1000
            ),
            gap_timeout=options["gapTimeoutMs"] / 1000,
            request_timeout=options["requestTimeoutMs"] / 1000,
            keepalive=None,
            on_state=saw.states.append,
        )

        async def consume() -> None:
            try:
                async for event in live:
                    if event["type"] == "reset":
                        saw.resets += 1
                    elif isinstance(event.get("seq"), int) and event["type"] != "subscribed":
                        on_channel = event.get("channel") if event["type"] == "broadcast" else None
                        saw.delivered.append(f"{on_channel}:{event['seq']}" if on_channel else event["seq"])
                    else:
                        saw.pushed.append(event)
            except LiveSessionError as error:
                saw.closed = error.code
            else:
                saw.closed = saw.states[-1].reason if saw.states and saw.states[-1].reason else "ended"

        async def call(spec: dict[str, Any]) -> None:
            method = getattr(live, spec["call"])
            args = [_argument(arg) for arg in spec.get("args", [])]
            kwargs = {name: _argument(value) for name, value in spec.get("kwargs", {}).items()}
            try:
                if spec.get("collect"):
                    answer: Any = {"items": len([item async for item in method(*args, **kwargs)])}
                else:
                    answer = await method(*args, **kwargs)
            except LiveSessionError as error:
                saw.call_results.append((spec, "raised", error.code))
            else:
                saw.call_results.append((spec, "returned", answer))

        def finished() -> bool:
            if "closed" in expect:
                return saw.closed is not None
            return len(saw.delivered) >= len(expect.get("delivered", [])) and server.done.is_set()

        consumer = asyncio.create_task(consume())
        try:
            async with asyncio.timeout(SAFETY_TIMEOUT):
                try:
                    await live.connect()
                except LiveSessionError:
                    pass  # the iteration raises it too: `closed`
                else:
                    await asyncio.gather(*(call(spec) for spec in app.get("calls", [])))
                while not finished():
                    await asyncio.sleep(0.01)
            saw.closed_by_itself = saw.closed is not None
            told = [change.error for change in saw.states if change.error is not None]
            saw.state_errors = [getattr(error, "code", repr(error)) for error in told]
        finally:
            await live.close()
            await asyncio.wait({consumer}, timeout=1)
            consumer.cancel()
    return server, saw
