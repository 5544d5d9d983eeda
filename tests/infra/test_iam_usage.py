"""What each function really calls is what infra/permissions.py grants it: no more, no less.

test_functions.py checks that the synthesized roles are exactly `FUNCTION_ACTIONS`; this checks that
table against behaviour. Each deployed handler (`FUNCTION_SPECS[name].handler`) is run in process, over a
representative run of its routes (moto for DynamoDB and S3, the captured management API), and every AWS
call it makes is recorded, attributed to the function whose handler was running, and turned into the IAM
action AWS authorizes it as:

- DynamoDB, at the botocore layer of the handler's own client (as tests/ws/test_request_counts.py counts):
  a TransactWriteItems is authorized element by element (Put/Update/Delete -> Put/Update/DeleteItem,
  ConditionCheck -> ConditionCheckItem), there is no `dynamodb:TransactWriteItems` action;
- S3, on the same layer: a presigned POST makes no call, S3 authorizes the upload as PutObject by the
  signing role, so presigning one records `s3:PutObject`;
- the management API: `execute-api:ManageConnections` on `<stage>/<HTTP method>/@connections/*`, the method
  the botocore service model gives the operation (PostToConnection: POST), so it must be in the function's
  CONNECTION_METHODS;
  the lean post path (session_runtime/management_api.py) names its calls as boto3 does, so both are recorded.

- the cursor secret: `secretsmanager:GetSecretValue` for each function that seals or opens a cursor. A function
  reads it once per cold start, on its first cursor; here one runtime serves every function, so the read is
  recorded at each use of the seal, attributed to the function using it (as its own cold start would read it);
- EventBridge, on the lifecycle events function's own client: PutEvents is `events:PutEvents` (the stream
  reads that invoke it are Lambda's, declared apart in EVENT_SOURCE_ACTIONS and checked in the template);

- the fan-out worker's asynchronous invoke: `lambda:InvokeFunction`. The run is made twice, the second
  time with every fan-out sharded (threshold 1), and the recording `lambda` client runs the worker on the
  spot, as Lambda would a moment later, with no dispatcher of its own (the deployed worker has no
  FANOUT_WORKER_FUNCTION).

Calls made by the test itself (creating a session straight in the store) are outside every handler and
not counted.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections import defaultdict
from typing import Any

import boto3
import botocore.session
import pytest

from lifecycle_events.app import ledger as lifecycle_ledger
from lifecycle_events.app import publisher as lifecycle_publisher
from session_runtime.shards import ShardDispatcher

from infra.functions import (
    CONNECTION_FUNCTION,
    FANOUT_WORKER_FUNCTION,
    FUNCTION_SPECS,
    HTTP_FUNCTION,
    LIFECYCLE_EVENTS_FUNCTION,
    SWEEP_FUNCTION,
    UPLOAD_FUNCTION,
)
from infra.permissions import CONNECTION_METHODS, FUNCTION_ACTIONS

_TRANSACT_ELEMENT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
_BATCH_WRITE_ACTIONS = {"PutRequest": "dynamodb:PutItem", "DeleteRequest": "dynamodb:DeleteItem"}


def dynamodb_actions(operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions one DynamoDB request is authorized with."""
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return {_TRANSACT_ELEMENT_ACTIONS[kind] for element in params["TransactItems"] for kind in element}
    if operation == "BatchWriteItem":
        return {
            _BATCH_WRITE_ACTIONS[kind]
            for requests in params["RequestItems"].values()
            for request in requests
            for kind in request
        }
    return {f"dynamodb:{operation}"}


def test_transactions_map_to_their_element_actions():
    items = [{"Update": {}}, {"Put": {}}, {"ConditionCheck": {}}]
    assert dynamodb_actions("TransactWriteItems", {"TransactItems": items}) == {
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
    }
    assert dynamodb_actions("Query", {}) == {"dynamodb:Query"}


class Usage:
    """function name -> the IAM actions (and management API methods) its handler's calls needed."""

    def __init__(self, table_name: str, bucket: str, cursor_secret: str, bus: str) -> None:
        self.table_name, self.bucket, self.cursor_secret, self.bus = table_name, bucket, cursor_secret, bus
        self.current: str | None = None  # a plain attribute, not a contextvar: fan-out posts from a thread pool
        self.actions: dict[str, set[str]] = defaultdict(set)
        self.methods: dict[str, set[str]] = defaultdict(set)
        self.foreign: list[str] = []  # calls on another table or bucket than the stack's
        self._lock = threading.Lock()

    def record(self, actions: set[str], *, method: str | None = None) -> None:
        with self._lock:
            if self.current is None:
                return
            self.actions[self.current] |= actions
            if method is not None:
                self.methods[self.current].add(method)

    def on_dynamodb(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        tables = {params["TableName"]} if "TableName" in params else set()
        for element in params.get("TransactItems", []):
            tables |= {spec["TableName"] for spec in element.values()}
        tables |= set(params.get("RequestItems", {}))
        self.foreign += [f"{model.name} on {t}" for t in tables if t != self.table_name]
        self.record(dynamodb_actions(model.name, params))

    def on_secretsmanager(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("SecretId") != self.cursor_secret:
            self.foreign.append(f"{model.name} on secret {params.get('SecretId')}")

    def on_s3(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if params.get("Bucket") != self.bucket:
            self.foreign.append(f"{model.name} on bucket {params.get('Bucket')}")
        if context.get("is_presign_request") and model.name == "CreateBucket":
            self.record({"s3:PutObject"})  # generate_presigned_post builds its URL from CreateBucket's model
        else:
            # DeleteObjects is authorized key by key as s3:DeleteObject (there is no s3:DeleteObjects action).
            self.record({_S3_ACTIONS.get(model.name, f"s3:{model.name}")})

    def on_events(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        buses = {entry.get("EventBusName") for entry in params.get("Entries", [])}
        self.foreign += [f"{model.name} on bus {bus}" for bus in buses if bus != self.bus]
        self.record({f"events:{model.name}"})


_S3_ACTIONS = {"DeleteObjects": "s3:DeleteObject", "HeadObject": "s3:GetObject", "ListObjectsV2": "s3:ListBucket"}


class RecordingManagementApi:
    """Forwards to the captured management API and records each operation the handlers call on it."""

    _model = botocore.session.get_session().get_service_model("apigatewaymanagementapi")
    _operations = {botocore.xform_name(name): name for name in _model.operation_names}

    def __init__(self, inner: Any, usage: Usage) -> None:
        self._inner, self._usage = inner, usage

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        operation = self._operations.get(name)
        if operation is None:
            return attribute  # the fake's own bookkeeping (sent, gone, ...)
        method = self._model.operation_model(operation).http["method"]

        def call(**kwargs: Any) -> Any:
            self._usage.record({"execute-api:ManageConnections"}, method=method)
            return attribute(**kwargs)

        return call


class InlineWorker:
    """A `lambda` client whose asynchronous invoke records the action and runs the worker's entry point."""

    def __init__(self, usage: Usage, runtime: Any) -> None:
        self._usage, self._runtime = usage, runtime

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert FunctionName == FANOUT_WORKER_FUNCTION and InvocationType == "Event"
        self._usage.record({"lambda:InvokeFunction"})
        worker = importlib.import_module(FUNCTION_SPECS[FANOUT_WORKER_FUNCTION].handler.rsplit(".", 1)[0]).handler
        caller, self._usage.current = self._usage.current, None
        fanout = self._runtime.fanout
        dispatcher, fanout.dispatcher = fanout.dispatcher, None
        try:
            from tests.support.http_events import FakeLambdaContext

            worker(json.loads(Payload), FakeLambdaContext(function_name="live-sessions-fanout-worker"))
        finally:
            fanout.dispatcher, self._usage.current = dispatcher, caller
        return {"StatusCode": 202}


class RecordingNotices:
    """The notice queue: SendMessage recorded as `sqs:SendMessage`, and the trailing notice handled at once (as the
    queue's mapping would a second later, in the fan-out worker: outside the caller's attribution)."""

    def __init__(self, usage: Usage, runtime: Any) -> None:
        self._usage, self._runtime = usage, runtime

    def schedule(self, notice: Any, delay_seconds: int) -> None:
        self._usage.record({"sqs:SendMessage"})
        caller, self._usage.current = self._usage.current, None
        try:
            self._runtime.notices.trailing(notice)
        finally:
            self._usage.current = caller


def _reading_the_secret(inner: Any, usage: Usage) -> Any:
    """A seal's method that records the secret's read its function's own cold start would have made."""

    def call(*args: Any, **kwargs: Any) -> Any:
        usage.record({"secretsmanager:GetSecretValue"})
        return inner(*args, **kwargs)

    return call


@pytest.fixture
def usage(runtime, monkeypatch) -> Usage:
    assert "fanout" not in vars(runtime), "the fan-out must be built on the recording management API"
    settings = runtime.settings
    recorded = Usage(
        settings.table_name, settings.artifacts_bucket, settings.cursor_key_secret, settings.event_bus_name
    )
    lifecycle_publisher.cache_clear()
    lifecycle_ledger.cache_clear()
    boto3.client("events").create_event_bus(Name=settings.event_bus_name)
    # Both the boto3 client (the odd call) and the lean post path (the fan-out's calls, boto3's names).
    runtime.management = runtime.connections = RecordingManagementApi(runtime.management, recorded)
    inline = InlineWorker(recorded, runtime)
    runtime.notice_scheduler = RecordingNotices(recorded, runtime)
    runtime.fanout.dispatcher = ShardDispatcher(FANOUT_WORKER_FUNCTION, threshold=1, client=lambda: inline)
    # The clients are shared by the whole run (tests/conftest.py): the hooks come off again below.
    hooks = [
        (runtime.store.client.meta.events, "before-parameter-build.dynamodb", recorded.on_dynamodb),
        (runtime.s3.meta.events, "before-parameter-build.s3", recorded.on_s3),
        (runtime.secrets.meta.events, "before-parameter-build.secrets-manager", recorded.on_secretsmanager),
        (lifecycle_publisher().client.meta.events, "before-parameter-build.events", recorded.on_events),
        (lifecycle_ledger().client.meta.events, "before-parameter-build.dynamodb", recorded.on_dynamodb),
    ]
    seal = runtime.cursor_seal
    for method in ("seal", "open"):
        monkeypatch.setattr(seal, method, _reading_the_secret(getattr(seal, method), recorded))
    for events, event_name, hook in hooks:
        events.register(event_name, hook, unique_id=f"iam-usage-{event_name}")

    # Each function's deployed entry point, wrapped so the calls it makes are attributed to that function.
    for name, spec in FUNCTION_SPECS.items():
        module_name, attribute = spec.handler.rsplit(".", 1)
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)

        def entry(event: Any, context: Any, _original=original, _name=name) -> Any:
            assert recorded.current is None, "handlers do not call each other"
            recorded.current = _name
            try:
                return _original(event, context)
            finally:
                recorded.current = None

        monkeypatch.setattr(module, attribute, entry)
    try:
        yield recorded
    finally:
        for events, event_name, _ in hooks:
            events.unregister(event_name, unique_id=f"iam-usage-{event_name}")
        lifecycle_publisher.cache_clear()
        lifecycle_ledger.cache_clear()


def _run_http_routes(handlers, max_listeners: int) -> None:
    def ok(answer, *statuses: int) -> Any:
        assert answer.status in statuses, answer.raw_body
        return answer.body

    http = handlers.http
    ok(http("GET", "/health"), 200)
    ok(http("GET", "/openapi.json"), 200)
    ok(http("GET", "/asyncapi.json"), 200)
    ok(http("GET", "/lifecycle-events.json"), 200)
    sid = ok(http("POST", "/sessions", user="owner-1", body={"title": "Talk", "maxListeners": max_listeners}), 201)[
        "sessionId"
    ]
    ok(http("POST", "/sessions", user="owner-1", body={}, headers={"Idempotency-Key": "create-1"}), 201)
    page = ok(http("GET", "/sessions", user="owner-1", query={"limit": "1"}), 200)
    ok(http("GET", "/sessions", user="owner-1", query={"limit": "1", "cursor": page["nextCursor"]}), 200)
    ok(http("GET", f"/sessions/{sid}"), 200)
    ok(http("GET", f"/sessions/{sid}", token=handlers.issuer.mint("owner-1")), 200)
    speaker = handlers.connected(sid, user="owner-1")
    listener, gone = handlers.connected(sid), handlers.connected(sid)
    handlers.management.gone.add(gone)  # its post fails with 410: the fan-out unregisters it
    # a second one: two leaves at once, so the second's notice trails on the notice queue (sqs:SendMessage)
    handlers.management.gone.add(handlers.connected(sid))
    ok(http("PATCH", f"/sessions/{sid}", user="owner-1", body={"title": "Renamed", "muted": True}), 200)
    ok(http("PATCH", f"/sessions/{sid}", user="owner-1", body={"status": "paused"}), 200)
    ok(http("PATCH", f"/sessions/{sid}", user="owner-1", body={"status": "active"}), 200)
    ok(http("POST", f"/sessions/{sid}/messages", user="owner-1", body={"text": "hello"}), 201)
    ok(http("GET", f"/sessions/{sid}/messages"), 200)
    png = {"kind": "image", "contentType": "image/png", "fileName": "slide.png"}
    artifact = ok(http("POST", f"/sessions/{sid}/artifacts", user="owner-1", body=png), 201)["artifact"]["artifactId"]
    ok(http("GET", f"/sessions/{sid}/artifacts", user="owner-1"), 200)
    ok(http("PATCH", f"/sessions/{sid}/artifacts/{artifact}", user="owner-1", body={"status": "processing"}), 200)
    ok(http("PATCH", f"/sessions/{sid}/artifacts/{artifact}", user="owner-1", body={"shared": True}), 200)
    ok(http("GET", f"/sessions/{sid}/artifacts", query={"shared": "true"}), 200)
    ok(http("GET", f"/sessions/{sid}/artifacts/{artifact}/download"), 200)  # a presigned GET
    ok(http("POST", f"/sessions/{sid}/artifacts/{artifact}/results", user="owner-1", body=png), 201)
    ok(http("GET", f"/sessions/{sid}/artifacts/{artifact}/results", user="owner-1"), 200)
    ok(http("DELETE", f"/sessions/{sid}/artifacts/{artifact}", user="owner-1"), 204)
    ok(http("DELETE", f"/sessions/{sid}", user="owner-1"), 204)  # listeners told sessionEnded and closed
    assert listener in handlers.management.closed and speaker not in handlers.management.closed
    assert gone not in handlers.listeners(sid)


def _on_channel(handlers, sid: str, channel: str) -> str:
    handshake = handlers.connect(sid, channel=channel)
    assert handshake.status == 200, handshake.error
    return handshake.connection_id


def _run_http_channel_routes(handlers, max_listeners: int) -> None:
    """A session with channels over HTTP: both publish routes (the owner's token, a granted role's SigV4), one
    channel's stream polled, and a PATCH that removes a channel a listener is on (moved to none, told)."""
    from tests.http.test_broadcasts import GRANTED_SESSION, _signed

    def ok(answer, *statuses: int) -> Any:
        assert answer.status in statuses, answer.raw_body
        return answer.body

    http = handlers.http
    body = {"title": "Channels", "maxListeners": max_listeners, "channels": ["es", "fr"]}
    sid = ok(http("POST", "/sessions", user="owner-1", body=body), 201)["sessionId"]
    handlers.connected(sid, user="owner-1")  # the speaker hears the counts per channel
    es, fr = _on_channel(handlers, sid, "es"), _on_channel(handlers, sid, "fr")
    mixed = {"events": [{"data": 1, "channel": "es"}, {"data": 2}, {"data": 3, "channel": "fr"}]}
    ok(http("POST", f"/sessions/{sid}/broadcasts", user="owner-1", body=mixed), 201)
    ok(handlers.http_answer(_signed(sid, {"events": [{"data": 4, "channel": "es"}]}, GRANTED_SESSION)), 201)
    ok(http("GET", f"/sessions/{sid}/events", query={"channel": "es", "sinceSeq": "0"}), 200)
    ok(http("PATCH", f"/sessions/{sid}", user="owner-1", body={"channels": ["fr"]}), 200)
    assert [m["channel"] for m in handlers.received(es, "subscribed")] == [None]
    assert handlers.received(fr, "broadcast")


def _run_websocket_channel_routes(handlers, max_listeners: int) -> None:
    """A session with channels over WebSocket: a switch, a channel broadcast, a resume of both streams."""
    from tests.support.ws_events import message_event

    session, _ = handlers.store.create_session(
        owner_id="owner-1", title="Channels", source_language="en", max_listeners=max_listeners, channels=["es", "fr"]
    )
    sid = session.sessionId
    speaker = handlers.connected(sid, user="owner-1")
    es, moving = _on_channel(handlers, sid, "es"), handlers.connected(sid)
    handlers.act(moving, "subscribe", channel="fr")
    handlers.act(speaker, "broadcast", data=1, channel="es")
    resume = {"action": "join", "sinceSeq": 0, "epoch": session.epoch, "channel": "es", "channelSinceSeq": 0}
    assert handlers.websocket(message_event(es, resume, "join"))["statusCode"] == 200
    assert [m["seq"] for m in handlers.received(es, "broadcast")] == [1, 1]  # live, then replayed
    handlers.act(speaker, "end")


def _run_websocket_routes(handlers, max_listeners: int) -> None:
    sid = handlers.create_session(owner="owner-1", max_listeners=max_listeners).sessionId
    speaker = handlers.connected(sid, user="owner-1")
    listener, gone, leaving = handlers.connected(sid), handlers.connected(sid), handlers.connected(sid)
    handlers.management.gone.add(gone)
    handlers.act(
        handlers.connected(sid, user="guest"), "react", reaction="👏", id="r"
    )  # a signed-in listener's reaction
    assert handlers.connect("quiet-river-000").status != 200  # a refused $connect
    for action in ("join", "ping", "history"):
        handlers.act(listener, action)
    handlers.act(speaker, "broadcast", data=1)
    handlers.act(speaker, "sendMessage", text="hi")
    handlers.act(speaker, "sendMessage", text="again")
    page = handlers.act(listener, "history", limit=1)
    handlers.act(listener, "history", limit=1, cursor=page["nextCursor"])
    for action in ("pause", "resume", "mute", "unmute"):
        handlers.act(speaker, action)
    handlers.send(listener, "{not json", route_key="$default")
    handlers.disconnect(leaving)
    handlers.act(speaker, "end")
    handlers.disconnect(speaker)
    assert listener in handlers.management.closed and gone not in handlers.listeners(sid)


def _upload_never_notified(handlers, s3, sid: str) -> None:
    """A PNG uploaded with its form whose storage notification never reached the upload function."""
    from tests.http.test_artifacts import upload
    from tests.support.images import png

    body = {"kind": "image", "contentType": "image/png", "fileName": "slide.png"}
    created = handlers.http("POST", f"/sessions/{sid}/artifacts", user="owner-1", body=body).body
    assert upload(s3, created["upload"], png(2, 2))[0] == 204


def _run_sweep(handlers, s3, max_listeners: int) -> None:
    store = handlers.store
    real = store.clock
    store.clock = lambda: real() - 3_600_000  # speakerless for an hour
    sid = handlers.create_session(owner="owner-1", max_listeners=max_listeners).sessionId
    _upload_never_notified(handlers, s3, sid)  # an hour ago too: past the grace, the sweep asks S3
    store.clock = real
    listener, gone = handlers.connected(sid), handlers.connected(sid)
    handlers.management.gone.add(gone)  # a ghost: the sweep's GET finds it gone
    handlers.management.gone.add(handlers.connected(sid))  # two: the second's notice trails
    store.clock = lambda: real() + 120_000  # both connections are past the ghost grace: the sweep asks
    sweep = importlib.import_module(FUNCTION_SPECS[SWEEP_FUNCTION].handler.rsplit(".", 1)[0]).handler
    from tests.support.http_events import FakeLambdaContext

    summary = sweep({"detail-type": "Scheduled Event"}, FakeLambdaContext(function_name="live-sessions-sweep"))
    assert summary["ghosts"] == 2
    assert summary["ended"] == [sid]
    assert summary["uploads"] == {"completed": 1}
    # Past the ended session's retention: its data goes, the uploaded object with it.
    store.clock = lambda: real() + handlers.runtime.settings.ended_session_ttl_days * 86_400_000
    summary = sweep({"detail-type": "Scheduled Event"}, FakeLambdaContext(function_name="live-sessions-sweep"))
    store.clock = real
    assert summary["retention"]["retired"] >= 1
    assert listener in handlers.management.closed and gone not in handlers.listeners(sid)


def _run_fanout_worker(handlers, max_listeners: int) -> None:
    sid = handlers.create_session(owner="owner-1", max_listeners=max_listeners).sessionId
    speaker = handlers.connected(sid, user="owner-1")
    listener, gone = handlers.connected(sid), handlers.connected(sid)
    handlers.management.gone.add(gone)  # unregistered by the shard, and the speaker told the new count
    handlers.management.gone.add(handlers.connected(sid))  # two: the second's notice trails
    worker = importlib.import_module(FUNCTION_SPECS[FANOUT_WORKER_FUNCTION].handler.rsplit(".", 1)[0]).handler
    job = {"sessionId": sid, "shard": 0, "shards": 1, "payloads": [{"type": "sessionEnded"}], "closeListeners": True}
    from tests.support.http_events import FakeLambdaContext

    result = worker(job, FakeLambdaContext(function_name="live-sessions-fanout-worker"))
    assert result == {"sent": 2, "gone": 2, "failed": 0}
    assert listener in handlers.management.closed and speaker not in handlers.management.closed
    assert gone not in handlers.listeners(sid)


def _run_full_session(handlers) -> None:
    """A join to a full session whose only seat is a ghost's (its socket gone, its `$disconnect` never came): the
    connection function asks API Gateway about it (GET), frees its seat and seats the newcomer."""
    sid = handlers.create_session(owner="owner-1", max_listeners=1).sessionId
    ghost = handlers.connected(sid)  # registered past its handshake (the Handlers' default)
    handlers.management.gone.add(ghost)
    newcomer = handlers.connect(sid)
    assert newcomer.status == 200, newcomer.error
    assert ghost not in handlers.listeners(sid)


def _run_lifecycle_events(handlers) -> None:
    """The stream's records of a session's life (built from the store's own records, as the stream would carry
    them): the function puts what they announce; and a keynote session's first listener taking a
    seat on a shard: the function reads the session and its shards and moves its occupancy item."""
    from session_schema.layout import SEATS_PER_SHARD

    from tests.support.http_events import FakeLambdaContext
    from tests.support.stream_records import stream_record

    created = handlers.create_session(owner="owner-1")
    joined = created.model_copy(update={"listenerCount": 1})
    keynote = handlers.create_session(owner="owner-1", max_listeners=SEATS_PER_SHARD + 1)
    empty = handlers.store.seat_shards(keynote)
    handlers.connected(keynote.sessionId)
    seated = handlers.store.seat_shards(keynote)
    (crossing,) = [stream_record(old, new) for old, new in zip(empty, seated, strict=True) if old != new]
    records = [stream_record(None, created), stream_record(created, joined), crossing]
    events = importlib.import_module(FUNCTION_SPECS[LIFECYCLE_EVENTS_FUNCTION].handler.rsplit(".", 1)[0]).handler
    answer = events({"Records": records}, FakeLambdaContext(function_name="live-sessions-lifecycle-events"))
    assert answer == {"batchItemFailures": []}


def _run_upload_function(handlers, s3, max_listeners: int) -> None:
    """S3's notifications of a PNG (completed) and of HTML sent as a PNG (failed), told to the session."""
    from local.s3 import Stored, event_of
    from tests.http.test_artifacts import upload
    from tests.support.http_events import FakeLambdaContext
    from tests.support.images import png

    sid = handlers.create_session(owner="owner-1", max_listeners=max_listeners).sessionId
    handlers.connected(sid, user="owner-1")
    handlers.connected(sid)
    records = []
    for content in (png(2, 2), b"<html></html>"):
        body = {"kind": "image", "contentType": "image/png", "fileName": "slide.png"}
        created = handlers.http("POST", f"/sessions/{sid}/artifacts", user="owner-1", body=body).body
        path = f"/sessions/{sid}/artifacts/{created['artifact']['artifactId']}"
        if content.startswith(b"\x89PNG"):  # shared: its confirmation goes to everyone (a sharded fan-out too)
            assert handlers.http("PATCH", path, user="owner-1", body={"shared": True}).status == 200
        assert upload(s3, created["upload"], content)[0] == 204
        key = created["artifact"]["objectKey"]
        etag = s3.head_object(Bucket=handlers.runtime.settings.artifacts_bucket, Key=key)["ETag"].strip('"')
        stored = Stored(handlers.runtime.settings.artifacts_bucket, key, len(content), etag)
        records += event_of(stored, "ObjectCreated:Post")["Records"]
    handlers.management.gone.add(handlers.connected(sid))  # its post fails with 410: unregistered
    handlers.management.gone.add(handlers.connected(sid))  # two: the second's notice trails
    function = importlib.import_module(FUNCTION_SPECS[UPLOAD_FUNCTION].handler.rsplit(".", 1)[0]).handler
    outcomes = function({"Records": records}, FakeLambdaContext(function_name="live-sessions-upload"))
    assert outcomes == {"completed": 1, "failed": 1}


@pytest.fixture
def used(usage, runtime, issuer, s3) -> Usage:
    from tests.support.handlers import Handlers

    handlers = Handlers(runtime, issuer)  # after `usage`: on the recording management API
    # Three times: small sessions served by the caller alone, then every fan-out sharded (each shard run by the
    # worker at once; the caller serves shard 0, which may hold none of a small session's connections), then
    # keynote sessions (seats on seat shards, read with the session: session_store/seat_ledger.py).
    from session_schema.layout import SEATS_PER_SHARD

    dispatcher = runtime.fanout.dispatcher
    from tests.http.test_broadcasts import GRANTED_ROLE

    runtime.settings = runtime.settings.model_copy(update={"publisher_role_arns": GRANTED_ROLE})
    for threshold, max_listeners in ((1_000_000, 100), (1, 100), (1_000_000, SEATS_PER_SHARD + 1)):
        dispatcher.threshold = threshold
        _run_http_routes(handlers, max_listeners)
        _run_http_channel_routes(handlers, max_listeners)
        _run_websocket_routes(handlers, max_listeners)
        _run_websocket_channel_routes(handlers, max_listeners)
        _run_sweep(handlers, s3, max_listeners)
        _run_upload_function(handlers, s3, max_listeners)
        _run_fanout_worker(handlers, max_listeners)
    _run_full_session(handlers)
    _run_lifecycle_events(handlers)
    assert set(usage.actions) == set(FUNCTION_SPECS), "the run must exercise every function"
    assert usage.foreign == [], "handlers touch only the stack's table, bucket and cursor secret"
    return usage


def _granted(name: str) -> set[str]:
    return {action for actions in FUNCTION_ACTIONS[name].values() for action in actions}


def test_every_call_a_handler_makes_is_granted_to_its_function_and_every_grant_is_used(used):
    problems: dict[str, dict[str, Any]] = {}  # every function's, at once: one run says all that is wrong
    for name in FUNCTION_SPECS:
        granted = _granted(name)
        found = {
            "calls what its role does not allow": sorted(used.actions[name] - granted),
            "is granted what none of its routes calls": sorted(granted - used.actions[name]),
        }
        if "connections" in FUNCTION_ACTIONS[name]:
            # Exactly the granted methods: none missing, none granted that the function never calls.
            methods = set(CONNECTION_METHODS[name])
            found["@connections methods called, not granted"] = sorted(used.methods[name] - methods)
            found["@connections methods granted, not called"] = sorted(methods - used.methods[name])
        if any(found.values()):
            problems[name] = {what: which for what, which in found.items() if which}
    assert problems == {}


def test_the_run_reaches_what_each_function_is_for(used):
    # A sanity floor, so that a run that silently stopped exercising a route cannot pass by granting less.
    assert {"s3:PutObject", "s3:DeleteObject", "s3:GetObject", "dynamodb:PutItem"} <= used.actions[HTTP_FUNCTION]
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= used.actions[CONNECTION_FUNCTION]
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:PutItem"} <= used.actions[SWEEP_FUNCTION]
    assert used.methods[SWEEP_FUNCTION] == {"POST", "DELETE", "GET"}
    assert {"dynamodb:Query", "dynamodb:DeleteItem"} <= used.actions[FANOUT_WORKER_FUNCTION]
    assert {"s3:GetObject", "dynamodb:UpdateItem", "dynamodb:PutItem"} <= used.actions[UPLOAD_FUNCTION]
    assert all("lambda:InvokeFunction" in used.actions[name] for name in (HTTP_FUNCTION, CONNECTION_FUNCTION))
    assert all("secretsmanager:GetSecretValue" in used.actions[name] for name in (HTTP_FUNCTION, CONNECTION_FUNCTION))
    assert used.actions[LIFECYCLE_EVENTS_FUNCTION] == {
        "events:PutEvents",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
    }
