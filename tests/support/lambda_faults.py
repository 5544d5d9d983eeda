"""Handlers for the execution-environment tests, imported by the local stack's worker processes by dotted
name (`tests.support.lambda_faults.http`): the real handlers, behind a switch a test flips per request.

- HTTP header `x-test-sleep: S`: sleep S seconds first (a test kills the worker, or lets it time out);
- HTTP header `x-test-marker: M`: instead of the real handler, put M in a module-level value, sleep
  `x-test-sleep` seconds, and answer what the value holds then, with this process's ID and how many
  invocations it has served (a warm environment keeps its module state, a concurrent one never sees it);
- HTTP header `x-test-non-json: 1`: answer a value JSON cannot carry;
- WebSocket frame field `"testSleep": S`: sleep S seconds, then the real handler gets the frame without it;
- `$connect` query parameter `testConnectSleep=S`: the real handler registers the connection, then the handshake
  is held S seconds more (API Gateway answers posts to it 410 meanwhile); `testConnectHold=PATH`: held until the
  file PATH exists (at most HOLD_LIMIT_SECONDS);
- `$connect` query parameter `testFailJoins=N`: the connection's first N `join` frames fail as an invocation that
  was throttled or failed does (API Gateway answers its integration-error frame; the real handler never sees them),
  counted in the connection's file (`join_fault_plan`) in the directory `$TEST_JOIN_FAULTS`;
- the fan-out worker: a file `fail-seq<seq>-shard<k>` holding N in the directory `$TEST_FANOUT_FAULTS`
  names makes the first N attempts of that shard of that event fail as a Query failing mid-read would
  (after its first connection); attempts are counted in files there, since each may run in another process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from connection_handler.app import handler as connection_handler
from connection_handler.fanout_worker import handler as fanout_worker_handler
from http_session_handler.app import handler as http_handler
from session_runtime.runtime import get_runtime

STATE: dict[str, Any] = {"marker": None, "served": 0}
HOLD_LIMIT_SECONDS = 30.0


def http(event: dict[str, Any], context: Any) -> Any:
    headers = event.get("headers") or {}
    STATE["served"] += 1
    sleep = float(headers.get("x-test-sleep") or 0)
    marker = headers.get("x-test-marker")
    if marker is not None:
        STATE["marker"] = marker
        time.sleep(sleep)
        body = {"marker": marker, "seen": STATE["marker"], "pid": os.getpid(), "served": STATE["served"]}
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
    if headers.get("x-test-non-json"):
        return {"statusCode": 200, "body": {"not", "json"}}
    time.sleep(sleep)
    return http_handler(event, context)


def connection(event: dict[str, Any], context: Any) -> Any:
    body = event.get("body")
    if isinstance(body, str) and "testSleep" in body:
        frame = json.loads(body)
        time.sleep(float(frame.pop("testSleep")))
        event = {**event, "body": json.dumps(frame)}
    context_of_request = event.get("requestContext")
    if context_of_request is None:  # a batch of the disconnect queue: no frame, nothing to inject
        return connection_handler(event, context)
    if _join_fails(context_of_request["connectionId"], body):
        raise RuntimeError("injected: the join's invocation failed")
    answer = connection_handler(event, context)
    if context_of_request.get("eventType") == "CONNECT":
        query = event.get("queryStringParameters") or {}
        _plan_join_faults(context_of_request["connectionId"], query)
        _hold_handshake(query)
    return answer


def join_fault_plan(folder: Path, connection_id: str) -> Path:
    """The file counting a connection's failing joins (a connection ID may hold a `/`)."""
    return folder / quote(connection_id, safe="")


def _join_faults(connection_id: str) -> Path | None:
    folder = os.environ.get("TEST_JOIN_FAULTS")
    return join_fault_plan(Path(folder), connection_id) if folder else None


def _plan_join_faults(connection_id: str, query: dict[str, str]) -> None:
    plan = _join_faults(connection_id)
    if plan is not None and "testFailJoins" in query:
        plan.write_text(query["testFailJoins"])


def _join_fails(connection_id: str, body: object) -> bool:
    """True when this frame is a join its connection's plan makes fail (the plan counts it down)."""
    plan = _join_faults(connection_id)
    if plan is None or not plan.exists() or not isinstance(body, str):
        return False
    try:
        frame = json.loads(body)
    except ValueError:
        return False
    if not isinstance(frame, dict) or frame.get("action") != "join":
        return False
    left = int(plan.read_text())
    plan.write_text(str(max(0, left - 1)))
    return left > 0


def _hold_handshake(query: dict[str, str]) -> None:
    time.sleep(float(query.get("testConnectSleep") or 0))
    release = query.get("testConnectHold")
    deadline = time.monotonic() + HOLD_LIMIT_SECONDS
    while release and not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def fanout_worker(event: dict[str, Any], context: Any) -> Any:
    plan = _fault_plan(event)
    if plan is None:
        return fanout_worker_handler(event, context)
    store = get_runtime().store
    real = store.iter_connection_targets

    def failing(*args: Any, **kwargs: Any) -> Iterator[Any]:
        read = real(*args, **kwargs)
        first = next(read, None)
        if first is not None:
            yield first
        raise ConnectionError("injected: the shard's Query failed mid-read")

    store.iter_connection_targets = failing
    try:
        return fanout_worker_handler(event, context)
    finally:
        del store.iter_connection_targets  # the class's method again


def _fault_plan(event: dict[str, Any]) -> Path | None:
    """The plan file when this attempt of this shard must fail (the attempt is counted first)."""
    folder = os.environ.get("TEST_FANOUT_FAULTS")
    if not folder:
        return None
    key = f"seq{event['payloads'][0].get('seq')}-shard{event['shard']}"
    plan = Path(folder, f"fail-{key}")
    if not plan.exists():
        return None
    with Path(folder, f"attempts-{key}").open("a") as attempts:
        attempts.write("attempt\n")
    made = len(Path(folder, f"attempts-{key}").read_text().splitlines())
    return plan if made <= int(plan.read_text()) else None
