"""The local WebSocket gateway's pieces: the handshake and `$connect`, route selection, route responses,
`$disconnect` (through the disconnect queue), API Gateway's limits, and the `@connections` endpoint driven by a real
boto3 client."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from session_schema.disconnect_message import DisconnectMessage

from local.apigw.ws_api_events import select_route
from local.apigw.ws_gateway import new_connection_id
from local.lambda_service.lambda_pools import HandlerSpec
from local.stack import LocalStack

CONNECTION_ID = re.compile(r"^[A-Za-z0-9_=+/-]{1,128}$")


def test_connection_ids_look_like_api_gateways() -> None:
    ids = {new_connection_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(CONNECTION_ID.match(i) and len(i) == 16 for i in ids)


@pytest.mark.parametrize(
    ("frame", "route"),
    [
        ('{"action":"ping"}', "ping"),
        ('{"action":"broadcast","data":{"x":1}}', "broadcast"),
        ('{"action":"dance"}', "$default"),
        ('{"action":"$connect"}', "$default"),
        ('{"action":5}', "$default"),
        ('{"type":"ping"}', "$default"),
        ("[1,2]", "$default"),
        ("not json", "$default"),
        (b"\x00\x01", "$default"),
    ],
)
def test_route_selection_by_body_action(frame: str | bytes, route: str) -> None:
    assert select_route(frame) == route


class WsRecorder:
    """A fake connection handler: records events, answers like the contract's shapes, posts when asked."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.callback_url = ""
        self.self_post_error: str | None = None

    def management(self) -> Any:
        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=self.callback_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

    def handler(self, event: dict[str, Any], context: Any) -> Any:
        if "Records" in event:  # the disconnect queue's batch: recorded as the `$disconnect` each message stands for
            with self.lock:
                self.events += [_as_disconnect(DisconnectMessage.parse(r["body"])) for r in event["Records"]]
            return {"batchItemFailures": []}
        with self.lock:
            self.events.append(event)
        ctx = event["requestContext"]
        if ctx["eventType"] == "CONNECT":
            session_id = (event.get("queryStringParameters") or {}).get("sessionId")
            if session_id == "ended-session-1":
                body = {"error": {"code": "SESSION_ENDED", "message": "session ended-session-1 has ended"}}
                return {"statusCode": 410, "body": json.dumps(body)}
            if session_id == "crash":
                raise RuntimeError("boom")
            if session_id == "self-post":
                # On API Gateway a connection cannot be posted to while its $connect runs.
                try:
                    self.management().post_to_connection(ConnectionId=ctx["connectionId"], Data=b"early")
                except ClientError as error:
                    self.self_post_error = error.response["Error"]["Code"]
            return {"statusCode": 200}
        if ctx["eventType"] == "DISCONNECT":
            return {"statusCode": 200}
        route = ctx["routeKey"]
        if route == "broadcast":
            raise RuntimeError("handler crashed")
        if route == "history":
            return {"statusCode": 200}  # no body: nothing is sent back
        if route == "$default":
            return {"statusCode": 200, "body": json.dumps({"type": "error", "code": "INVALID_ACTION"})}
        return {
            "statusCode": 200,
            "body": json.dumps({"type": route, "connectionId": ctx["connectionId"], "body": event["body"]}),
        }

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.events = self.events, []
        return events

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for event in self.events:
                    if predicate(event):
                        return event
            time.sleep(0.02)
        raise AssertionError("no such event arrived")


def _as_disconnect(message: DisconnectMessage) -> dict[str, Any]:
    """A queued `$disconnect` as the DISCONNECT event it came from (its declared fields)."""
    context = {"eventType": "DISCONNECT", "routeKey": "$disconnect", **message.model_dump()}
    return {"requestContext": context}


def _fake_http(event: dict[str, Any], context: Any) -> Any:
    return {"statusCode": 200, "body": "{}"}


def _start(recorder: WsRecorder, **options: Any) -> tuple[LocalStack, Any]:
    stack = LocalStack(
        http_port=0,
        ws_port=0,
        state_dir=None,
        sweep_interval=None,
        handlers=HandlerSpec(http=_fake_http, connection=recorder.handler, sweep=None),
        **options,
    )
    urls = stack.start()
    recorder.callback_url = urls.callback
    return stack, urls


@pytest.fixture(scope="module")
def ws_stack():
    recorder = WsRecorder()
    stack, urls = _start(recorder)
    try:
        yield stack, urls, recorder
    finally:
        stack.stop()


def _is(event_type: str, connection_id: str | None = None) -> Any:
    def predicate(event: dict[str, Any]) -> bool:
        ctx = event["requestContext"]
        return ctx["eventType"] == event_type and (connection_id is None or ctx["connectionId"] == connection_id)

    return predicate


async def _open(urls: Any, query: str = "sessionId=quiet-river-482") -> tuple[Any, str]:
    ws = await connect(f"{urls.ws}/?{query}", proxy=None, compression=None, user_agent_header="test-agent/1")
    await ws.send(json.dumps({"action": "join"}))
    joined = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return ws, joined["connectionId"]


def test_connect_event_and_route_responses(ws_stack) -> None:
    _, urls, recorder = ws_stack
    recorder.take()

    async def scenario() -> None:
        ws, connection_id = await _open(urls, "sessionId=quiet-river-482&token=abc&x=1&x=2")
        assert CONNECTION_ID.match(connection_id)
        await ws.send('{"action":"ping","extra":1}')
        pong = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert pong == {"type": "ping", "connectionId": connection_id, "body": '{"action":"ping","extra":1}'}
        await ws.send('{"action":"history"}')  # answered with no body: nothing comes back ...
        await ws.send("not json")  # ... so the next frame received is $default's answer
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "error", "code": "INVALID_ACTION"}
        await ws.send('{"action":"broadcast"}')  # the handler raises: API Gateway's error frame
        crash = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert crash["message"] == "Internal server error" and crash["connectionId"] == connection_id
        await ws.close()

    asyncio.run(scenario())
    recorder.wait_for(_is("DISCONNECT"))
    events = recorder.take()
    connect_event = events[0]
    ctx = connect_event["requestContext"]
    assert ctx["routeKey"] == "$connect" and ctx["eventType"] == "CONNECT"
    assert connect_event["queryStringParameters"] == {"sessionId": "quiet-river-482", "token": "abc", "x": "2"}
    assert connect_event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert connect_event["headers"]["User-Agent"] == "test-agent/1"
    assert connect_event["headers"]["Host"] == urls.ws.removeprefix("ws://")
    assert ctx["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "test-agent/1"}
    assert ctx["messageDirection"] == "IN" and ctx["stage"] and ctx["apiId"] and ctx["requestId"]
    assert abs(ctx["connectedAt"] - time.time() * 1000) < 60_000 and ctx["requestTimeEpoch"] >= ctx["connectedAt"]
    routes = [e["requestContext"]["routeKey"] for e in events]
    assert routes == ["$connect", "join", "ping", "history", "$default", "broadcast", "$disconnect"]
    message = events[2]
    assert message["requestContext"]["eventType"] == "MESSAGE" and message["requestContext"]["messageId"]
    assert message["isBase64Encoded"] is False
    disconnect = events[-1]["requestContext"]
    assert disconnect["eventType"] == "DISCONNECT" and disconnect["disconnectStatusCode"] == 1000
    assert {e["requestContext"]["connectionId"] for e in events} == {ctx["connectionId"]}


def test_refused_handshake_carries_the_handlers_status_and_body(ws_stack) -> None:
    _, urls, recorder = ws_stack
    recorder.take()

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{urls.ws}/?sessionId=ended-session-1", proxy=None)
        assert refused.value.response.status_code == 410
        assert json.loads(refused.value.response.body)["error"]["code"] == "SESSION_ENDED"
        with pytest.raises(InvalidStatus) as crashed:
            await connect(f"{urls.ws}/?sessionId=crash", proxy=None)
        assert crashed.value.response.status_code == 500

    asyncio.run(scenario())
    time.sleep(0.2)
    # A refused handshake never was a connection: no $disconnect, nothing left in the registry.
    assert [e["requestContext"]["eventType"] for e in recorder.take()] == ["CONNECT", "CONNECT"]


def test_management_api_through_boto3(ws_stack) -> None:
    stack, urls, recorder = ws_stack
    management = recorder.management()

    async def scenario() -> None:
        ws, connection_id = await _open(urls)
        assert connection_id in stack.live_connections()
        await asyncio.to_thread(management.post_to_connection, ConnectionId=connection_id, Data=b'{"type":"hello"}')
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "hello"}

        described = await asyncio.to_thread(management.get_connection, ConnectionId=connection_id)
        assert described["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "test-agent/1"}
        assert described["ConnectedAt"] <= described["LastActiveAt"]

        await asyncio.to_thread(management.delete_connection, ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1000
        recorder.wait_for(_is("DISCONNECT", connection_id))
        assert connection_id not in stack.live_connections()

        for call in (
            lambda: management.post_to_connection(ConnectionId=connection_id, Data=b"x"),
            lambda: management.get_connection(ConnectionId=connection_id),
            lambda: management.delete_connection(ConnectionId=connection_id),
            lambda: management.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x"),
        ):
            with pytest.raises(management.exceptions.GoneException) as gone:
                await asyncio.to_thread(call)
            assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410

    asyncio.run(scenario())


def test_ids_with_url_special_characters_round_trip(ws_stack) -> None:
    """API Gateway IDs are base64: `+`, `/` and `=` must survive boto3's path encoding."""
    stack, urls, recorder = ws_stack
    management = recorder.management()
    registry = stack.registry

    async def scenario() -> None:
        ws, connection_id = await _open(urls)
        odd = "a+b/c=d_e-f+/=="

        async def rename() -> None:
            conn = registry.remove(connection_id)
            conn.connection_id = odd
            registry.add(conn)

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(rename(), registry.loop))
        await asyncio.to_thread(management.post_to_connection, ConnectionId=odd, Data=b"odd")
        assert await asyncio.wait_for(ws.recv(), 5) == "odd"
        await ws.close()

    asyncio.run(scenario())


def test_posting_to_a_connection_during_its_connect_is_gone(ws_stack) -> None:
    _, urls, recorder = ws_stack

    async def scenario() -> None:
        ws, _ = await _open(urls, "sessionId=self-post")
        await ws.close()

    asyncio.run(scenario())
    assert recorder.self_post_error == "GoneException"


def test_payload_limits(ws_stack) -> None:
    _, urls, recorder = ws_stack
    management = recorder.management()

    async def scenario() -> None:
        ws, connection_id = await _open(urls)
        with pytest.raises(ClientError) as too_large:
            await asyncio.to_thread(
                management.post_to_connection, ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1)
            )
        assert too_large.value.response["Error"]["Code"] == "PayloadTooLargeException"
        # A client frame over API Gateway's 32 KB frame limit closes the connection with 1009.
        await ws.send(json.dumps({"action": "ping", "pad": "x" * (33 * 1024)}))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 1009
        recorder.wait_for(_is("DISCONNECT", connection_id))

    asyncio.run(scenario())


def test_an_aborted_client_runs_disconnect_and_a_severed_one_is_gone_on_the_next_post(ws_stack) -> None:
    stack, urls, recorder = ws_stack
    management = recorder.management()

    async def scenario() -> None:
        aborted, aborted_id = await _open(urls)
        aborted.transport.abort()  # no close frame: the server sees the TCP connection drop
        event = await asyncio.to_thread(recorder.wait_for, _is("DISCONNECT", aborted_id))
        assert event["requestContext"]["disconnectStatusCode"] == 1006

        severed, severed_id = await _open(urls)
        assert stack.sever_connection(severed_id)
        with pytest.raises(management.exceptions.GoneException):
            await asyncio.to_thread(management.post_to_connection, ConnectionId=severed_id, Data=b"x")
        await asyncio.sleep(0.3)
        with pytest.raises(AssertionError):
            recorder.wait_for(_is("DISCONNECT", severed_id), timeout=0.2)
        severed.transport.abort()

    asyncio.run(scenario())


def test_idle_timeout_and_maximum_duration() -> None:
    recorder = WsRecorder()
    stack, urls = _start(recorder, idle_timeout=0.6, max_connection_seconds=1.5)
    try:

        async def scenario() -> None:
            idle, idle_id = await _open(urls)
            started = time.monotonic()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(idle.recv(), 5)
            assert idle.close_code == 1001 and 0.4 < time.monotonic() - started < 3
            event = await asyncio.to_thread(recorder.wait_for, _is("DISCONNECT", idle_id))
            assert event["requestContext"]["disconnectStatusCode"] == 1001

            busy, _ = await _open(urls)
            started = time.monotonic()
            with pytest.raises(ConnectionClosed):
                while True:  # activity keeps it from idling out, not past its maximum duration
                    await busy.send('{"action":"ping"}')
                    await asyncio.wait_for(busy.recv(), 5)
                    await asyncio.sleep(0.2)
            assert busy.close_code == 1001 and 1.2 < time.monotonic() - started < 4

        asyncio.run(scenario())
    finally:
        stack.stop()


def test_stop_closes_connections_and_runs_disconnect() -> None:
    recorder = WsRecorder()
    stack, urls = _start(recorder)
    stopped = False
    try:

        async def scenario() -> None:
            nonlocal stopped
            ws, connection_id = await _open(urls)
            await asyncio.to_thread(stack.stop)
            stopped = True
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1001
            assert recorder.wait_for(_is("DISCONNECT", connection_id), timeout=0.1)

        asyncio.run(scenario())
    finally:
        if not stopped:
            stack.stop()
