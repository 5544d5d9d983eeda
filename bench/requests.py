"""DynamoDB requests per operation, through the real handlers (HTTP v2 and WebSocket events) against moto.

Requests are counted at botocore's `before-call` hook of the handlers' own DynamoDB client, by operation
name, exactly as tests/ws/test_request_counts.py pins them; management API calls (post/delete to
`@connections`) are counted on the captured management API. Broadcasts are measured to 1, 100 and 1000
listeners twice: with the fan-out's own page size (session_runtime/fanout.py `QUERY_PAGE` connections per
Query after a first page of `FIRST_QUERY_PAGE`) and with every page set to 100, which makes the paging visible.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from ._common import machine, prepare, table

TABLE_NAME = "live-sessions-bench"
BUCKET_NAME = "live-sessions-artifacts-bench"
OWNER = "owner-1"
FORCED_PAGE = 100
BROADCAST_SIZES = (1, 100, 1000)
SMOKE_ARGS = ["--listeners", "1,2"]  # tests/bench: every benchmark runs once at a tiny size


class Bench:
    """The handlers' runtime on moto, with a request counter on its DynamoDB client."""

    def __init__(self) -> None:
        import os

        import boto3

        from session_schema.keys import TABLE
        from session_schema.settings import stack_environment

        from local.dynamodb.atomic_moto import make_moto_dynamodb_atomic
        from tests.support.aws import CURSOR_SECRET_NAME, fixed_cursor_seal
        from tests.support.http_events import AUDIENCE, ISSUER_URL, shared_issuer

        make_moto_dynamodb_atomic()
        os.environ.update(
            stack_environment(
                {
                    "TABLE_NAME": TABLE_NAME,
                    "ARTIFACTS_BUCKET": BUCKET_NAME,
                    "EVENT_BUS_NAME": "live-sessions-bench",
                    "WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/bench",
                    "JWT_ISSUER": ISSUER_URL,
                    "JWT_AUDIENCE": AUDIENCE,
                    "CURSOR_KEY_SECRET": CURSOR_SECRET_NAME,
                },
                {"POWERTOOLS_LOG_LEVEL": "WARNING"},
            )
        )
        from session_runtime.auth import TokenVerifier
        from session_runtime.runtime import get_runtime
        from session_store.store import SessionStore

        from tests.support.fakes import FakeManagementApi

        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.ddb.create_table(**TABLE.create_table_kwargs(TABLE_NAME))
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET_NAME)
        # The events' bearer tokens (tests/support/http_events.py `user=`) come from the tests' shared issuer: trust it.
        self.issuer = shared_issuer()
        get_runtime.rebuild()
        self.rt = get_runtime()
        self.rt.store = SessionStore(TABLE_NAME, client=self.ddb, cursor_seal=fixed_cursor_seal())
        self.rt.s3 = s3
        self.rt.management = self.rt.connections = FakeManagementApi()  # boto3 client and lean post path
        issuer = self.issuer
        self.rt.verifier = TokenVerifier(ISSUER_URL, AUDIENCE, issuer.jwks_url, fetch_jwks=lambda url: issuer.jwks())
        self.counter: Counter[str] = Counter()
        self.ddb.meta.events.register("before-call.dynamodb", self._count, unique_id="bench-request-counter")
        from connection_handler.app import handler as ws_handler
        from http_session_handler.app import handler as http_handler

        self._ws, self._http = ws_handler, http_handler

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.counter[model.name] += 1

    @contextmanager
    def counting(self) -> Iterator[tuple[Counter[str], list[int]]]:
        self.counter.clear()
        before = len(self.rt.management.calls)
        posts = [0]
        yield self.counter, posts
        posts[0] = len(self.rt.management.calls) - before

    # -- calling the handlers with real events -------------------------------------------------------------

    def http(self, method: str, path: str, **kwargs: Any) -> Any:
        from tests.support.http_events import FakeLambdaContext, answer_of, http_event

        return answer_of(self._http(http_event(method, path, **kwargs), FakeLambdaContext()))

    def connect(self, session_id: str, user: str | None = None) -> str:
        from tests.support.ws_events import connect_event, new_connection_id

        connection_id = new_connection_id()
        query = {"sessionId": session_id, **({"token": self.issuer.mint(user)} if user else {})}
        result = self._ws(connect_event(connection_id, query), None)
        assert result["statusCode"] == 200, result
        return connection_id

    def act(self, connection_id: str, action: str, **fields: Any) -> dict[str, Any]:
        import json

        from tests.support.ws_events import message_event

        result = self._ws(message_event(connection_id, {"action": action, **fields}), None)
        return json.loads(result["body"])

    def disconnect(self, connection_id: str) -> None:
        from tests.support.ws_events import disconnect_event

        self._ws(disconnect_event(connection_id), None)

    def session(self, max_listeners: int = 10) -> str:
        session, _ = self.rt.store.create_session(
            owner_id=OWNER, title="bench", source_language="en", max_listeners=max_listeners
        )
        return session.sessionId

    def add_listeners(self, session_id: str, count: int, protocol_version: int = 1) -> None:
        """Set-up, not measured: the items `$connect` writes, batch-written through the codec, and the count.
        `protocol_version`: what the listeners' connect URL declared (`v`; 1 without one).

        (One `$connect` transaction per listener would do the same, but moto copies the whole table for
        each transaction, which makes 1,000 of them take minutes.)
        """
        from session_schema import codec, keys
        from session_schema.models import Connection

        from tests.support.ws_events import new_connection_id

        now = self.rt.store.clock()
        items = []
        for _ in range(count):
            connection = Connection(
                connectionId=new_connection_id(),
                sessionId=session_id,
                role="listener",
                connectedAt=now,
                expiresAt=now // 1000 + 3600,
                protocolVersion=protocol_version,
                partition=0,  # the one partition of a session of this size
            )
            items += [codec.encode(connection.entry()), codec.encode(connection)]
        for start in range(0, len(items), 25):
            self.ddb.batch_write_item(
                RequestItems={TABLE_NAME: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
            )
        self.ddb.update_item(
            TableName=TABLE_NAME,
            Key=codec.serialize_key(keys.session_key(session_id)),
            UpdateExpression="ADD listenerCount :n",
            ExpressionAttributeValues={":n": codec.value(count)},
        )

    @contextmanager
    def connection_pages(self, page_size: int) -> Iterator[None]:
        """The fan-out reads connections `page_size` per Query meanwhile (it passes its module's
        `FIRST_QUERY_PAGE`, then `QUERY_PAGE` as the Query's `Limit`, so those are what to change)."""
        from session_runtime import fanout

        original = fanout.FIRST_QUERY_PAGE, fanout.QUERY_PAGE
        fanout.FIRST_QUERY_PAGE = fanout.QUERY_PAGE = page_size
        try:
            yield
        finally:
            fanout.FIRST_QUERY_PAGE, fanout.QUERY_PAGE = original


def _describe(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items())) or "none"


def measure(bench: Bench, sizes: tuple[int, ...] = BROADCAST_SIZES) -> list[list[object]]:
    rows: list[list[object]] = []

    def row(operation: str, run: Callable[[], Any], note: str = "") -> Any:
        with bench.counting() as (counted, posts):
            result = run()
        rows.append([operation, _describe(counted), sum(counted.values()), posts[0], note])
        return result

    # -- HTTP ------------------------------------------------------------------------------------------
    created = row(
        "POST /sessions (create)", lambda: bench.http("POST", "/sessions", user=OWNER, body={"title": "t"}), "target 1"
    )
    assert created.status == 201, created.raw_body
    session_id = created.body["sessionId"]

    import session_store.store as store_module

    original_ids = store_module.new_session_id
    first_draw = [session_id]  # the first ID drawn is one already taken: the conditional put refuses it

    def colliding(*args: Any, **kwargs: Any) -> str:
        return first_draw.pop() if first_draw else original_ids(*args, **kwargs)

    store_module.new_session_id = colliding  # type: ignore[assignment]
    try:
        collided = row(
            "POST /sessions, 1st ID taken",
            lambda: bench.http("POST", "/sessions", user=OWNER, body={}),
            "+1 PutItem per collision",
        )
    finally:
        store_module.new_session_id = original_ids  # type: ignore[assignment]
    assert collided.status == 201
    row(
        "POST /sessions + Idempotency-Key",
        lambda: bench.http("POST", "/sessions", user=OWNER, body={}, headers={"Idempotency-Key": "k-1"}),
        "session + key in one transaction",
    )
    row("GET /sessions/{id} (public)", lambda: bench.http("GET", f"/sessions/{session_id}"))
    row(
        "GET /sessions (list, 1 page)",
        lambda: bench.http("GET", "/sessions", user=OWNER, query={"limit": "20"}),
        "GSI1 Query",
    )
    row(
        "GET /sessions/{id}/messages",
        lambda: bench.http("GET", f"/sessions/{session_id}/messages"),
        "session read + Query",
    )

    # -- WebSocket -------------------------------------------------------------------------------------
    speaker = row("$connect (owner, speaker)", lambda: bench.connect(session_id, user=OWNER), "one transaction")
    listener = row(
        "$connect (anonymous listener)", lambda: bench.connect(session_id), "target 1: check + register + count"
    )
    row(
        "$connect (another user's token)",
        lambda: bench.connect(session_id, user="guest"),
        "speaker try refused, then listener",
    )
    row("join (listener)", lambda: bench.act(listener, "join"), "role + session; listenerCount to speaker")
    row("ping", lambda: bench.act(listener, "ping"), "no table access")
    row(
        "sendMessage (WS, 2 listeners)",
        lambda: bench.act(speaker, "sendMessage", text="hi"),
        "role, store+check, fan-out Query",
    )
    row(
        "POST /sessions/{id}/messages (2 listeners)",
        lambda: bench.http("POST", f"/sessions/{session_id}/messages", user=OWNER, body={"text": "hi"}),
        "session read, store+check, fan-out Query",
    )
    row(
        "PATCH status=paused (HTTP)",
        lambda: bench.http("PATCH", f"/sessions/{session_id}", user=OWNER, body={"status": "paused"}),
    )
    row("resume (WS)", lambda: bench.act(speaker, "resume"))
    row("$disconnect (listener)", lambda: bench.disconnect(listener), "lookup, transaction, count to speaker")

    # -- broadcasts to N listeners ---------------------------------------------------------------------
    from session_runtime import fanout
    from session_store import store

    for n in sizes:
        big = bench.session(max_listeners=n)
        bench.add_listeners(big, n)
        caster = bench.connect(big, user=OWNER)
        for forced in (False, True):
            with bench.connection_pages(FORCED_PAGE) if forced else nullcontext():
                with bench.counting() as (counted, posts):
                    answer = bench.act(caster, "broadcast", data={"n": 1})
                assert answer.get("delivered") == n, answer
                queries = counted["Query"]
                # N listeners and the speaker (fanout.query_count: a last full page costs one more Query), all in
                # the session's one partition; then one Query of the range code before channels registered
                # connections in, read during its deploy window (docs/data-model.md), empty here.
                legacy = 1 if store.READ_LEGACY_CONNECTION_KEYS else 0
                assert queries == fanout.query_count(n + 1) + legacy, (n, forced, queries)
                growing = f"Limit={fanout.FIRST_QUERY_PAGE} doubling to {fanout.QUERY_PAGE}"
                limits = f"Limit={FORCED_PAGE}" if forced else growing
                rows.append(
                    [
                        f"broadcast to {n} ({limits})",
                        _describe(counted),
                        sum(counted.values()),
                        posts[0],
                        f"{queries} Query for {n + 1} connection items",
                    ]
                )
        if n == max(sizes):
            ended = row(
                f"end (WS) with {n} listeners", lambda caster=caster: bench.act(caster, "end"), f"+{n} closes"
            )
            assert ended["type"] == "sessionEnded"
    ending = row(
        "DELETE /sessions/{id} (1 listener)",
        lambda: bench.http("DELETE", f"/sessions/{session_id}", user=OWNER),
        "sessionEnded + close",
    )
    assert ending.status == 204
    row("DELETE again (repeatable)", lambda: bench.http("DELETE", f"/sessions/{session_id}", user=OWNER))
    return rows


def connection_item_bytes() -> int:
    """DynamoDB's size of one connection item (aws_model/capacity.py)."""
    from session_schema import codec
    from session_schema.models import Connection

    from aws_model.capacity import item_size
    from tests.support.ws_events import new_connection_id

    now = int(time.time() * 1000)
    connection = Connection(
        connectionId=new_connection_id(),
        sessionId="quiet-river-482",
        role="listener",
        connectedAt=now,
        expiresAt=now // 1000,
        partition=0,
    )
    return item_size(codec.encode(connection.entry()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench requests")
    parser.add_argument("--listeners", default=",".join(map(str, BROADCAST_SIZES)), help="broadcast sizes")
    args = parser.parse_args(argv)
    sizes = tuple(int(n) for n in args.listeners.split(",") if n)
    prepare()
    from moto import mock_aws

    from local.dynamodb.moto_json import answer_with_json

    answer_with_json()  # as the local stack's moto answers (moto's generic serializer is slow); counts are unaffected

    import io
    from contextlib import redirect_stdout

    from session_runtime.fanout import FIRST_QUERY_PAGE, QUERY_PAGE

    started = time.monotonic()
    with mock_aws(), redirect_stdout(io.StringIO()):  # Powertools' EMF lines (cold-start metric) go to stdout
        rows = measure(Bench(), sizes)
        item_bytes = connection_item_bytes()
    print(
        table(
            "DynamoDB requests per operation (real handlers, moto)",
            ["operation", "DynamoDB requests", "total", "@connections calls", "note"],
            rows,
            [
                "counted at botocore's before-call hook of the handlers' DynamoDB client (retries would count too)",
                "broadcast: GetItem x2 = the caller's connection (its role) and the stream's head (the session), "
                "TransactWriteItems = the head's `seq` moved conditional on the seq read (and on active and "
                "unmuted) with the event kept in the same write (session_runtime/stream.py), then the connection "
                "Query page by page; no write per listener",
                f"a broadcast reads N + 1 connection items (the speaker's too), {FIRST_QUERY_PAGE} in its first "
                f"Query, then twice the Query before up to {QUERY_PAGE} (session_runtime/fanout.py), or {FORCED_PAGE} "
                "per Query in "
                f"the `Limit={FORCED_PAGE}` rows; a page that fills to its Limit ends with a LastEvaluatedKey and "
                "one more Query finds the rest (or nothing)",
                f"a connection item is ~{item_bytes} bytes (DynamoDB size): a 1 MB Query page would hold "
                f"~{(1 << 20) // item_bytes:,} connections, so the page size, not the 1 MB cap, sets the count",
                f"measured in {time.monotonic() - started:.0f} s on {machine()}",
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
