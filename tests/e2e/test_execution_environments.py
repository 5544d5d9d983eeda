"""The local stack runs each function as Lambda does (local/lambda_service/lambda_pools.py): one event at a
time per worker process, module state kept between events and never shared by concurrent ones, a crashed or timed-out
environment answered as API Gateway answers a failed integration and replaced, a function over its
concurrency throttled, every log line naming its function and its invocation.

One stack for the module, with the real handlers behind switches a test flips per request
(tests/support/lambda_faults.py); without a switch a request takes the real handler's path.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from websockets.sync.client import connect

from session_schema.functions import CONNECTION_FUNCTION, HTTP_FUNCTION

from local.lambda_service.lambda_pools import HandlerSpec
from local.stack import LocalStack
from tests.support.local_stack import create_session, running_local_stack

pytestmark = pytest.mark.e2e

FUNCTION_TIMEOUT = 6.0
CRASHED = {"message": "Internal Server Error"}  # what the HTTP API answers for a failed integration


@pytest.fixture(scope="module")
def logs() -> Iterator[Any]:
    with tempfile.TemporaryFile("w+") as file:
        yield file


@pytest.fixture(scope="module")
def faults(logs: Any) -> Iterator[LocalStack]:
    with running_local_stack(
        handlers=HandlerSpec(
            http="tests.support.lambda_faults.http", connection="tests.support.lambda_faults.connection", sweep=None
        ),
        function_timeout=FUNCTION_TIMEOUT,
        throttle_wait=0.5,
        worker_output=logs.fileno(),
    ) as local:
        yield local


def _url(local: LocalStack, path: str) -> str:
    assert local.urls is not None
    return local.urls.http + path


def _busy_pid(local: LocalStack, function: str, timeout: float = 10.0) -> int:
    """The worker now serving an event of `function` (waits for one to be busy)."""
    assert local.functions is not None
    pool = local.functions.pool(function)
    deadline = time.monotonic() + timeout
    while not pool.busy_pids():
        assert time.monotonic() < deadline, f"no {function} worker became busy"
        time.sleep(0.02)
    (pid,) = pool.busy_pids()
    return pid


def _in_thread(call: Callable[[], Any]) -> Any:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    return future


# -- isolation ------------------------------------------------------------------------------------------


def test_parallel_callers_each_get_their_own_answers_over_http_and_websocket(faults: LocalStack) -> None:
    alice, bob = faults.mint("alice"), faults.mint("bob")
    session_id = create_session(faults, alice, title="alice's")
    create_session(faults, bob, title="bob's")
    as_alice = {"Authorization": f"Bearer {alice}"}
    as_bob = {"Authorization": f"Bearer {bob}"}
    session = _url(faults, f"/sessions/{session_id}")
    problems: list[str] = []
    statuses: list[int] = []

    def check(who: str, response: requests.Response, ok: Callable[[Any], bool]) -> None:
        statuses.append(response.status_code)
        if not ok(response):
            problems.append(f"{who}: {response.status_code} {response.text[:200]}")

    calls: dict[str, Callable[[int], None]] = {
        "anonymous creates": lambda i: check(
            "anonymous create", requests.post(_url(faults, "/sessions"), json={}, timeout=20),
            lambda r: r.status_code == 401,
        ),
        "alice lists": lambda i: check(
            "alice list", requests.get(_url(faults, "/sessions"), headers=as_alice, timeout=20),
            lambda r: r.status_code == 200 and {s["ownerId"] for s in r.json()["items"]} == {"alice"},
        ),
        "bob lists": lambda i: check(
            "bob list", requests.get(_url(faults, "/sessions"), headers=as_bob, timeout=20),
            lambda r: r.status_code == 200 and {s["ownerId"] for s in r.json()["items"]} == {"bob"},
        ),
        "anonymous reads": lambda i: check(
            "anonymous read", requests.get(session, timeout=20),
            lambda r: r.status_code == 200 and "ownerId" not in r.json(),
        ),
        "alice reads": lambda i: check(
            "alice read", requests.get(session, headers=as_alice, timeout=20),
            lambda r: r.status_code == 200 and r.json().get("ownerId") == "alice",
        ),
        "anonymous renames": lambda i: check(
            "anonymous patch", requests.patch(session, json={"title": "anonymous"}, timeout=20),
            lambda r: r.status_code == 401,
        ),
        "bob renames": lambda i: check(
            "bob patch", requests.patch(session, json={"title": "bob"}, headers=as_bob, timeout=20),
            lambda r: r.status_code in (403, 404),
        ),
        "alice renames": lambda i: check(
            "alice patch", requests.patch(session, json={"title": f"alice {i}"}, headers=as_alice, timeout=20),
            lambda r: r.status_code == 200 and r.json()["title"] == f"alice {i}",
        ),
    }
    assert faults.urls is not None
    ws_base = f"{faults.urls.ws}/?sessionId={session_id}"
    sockets = {
        "alice": (f"{ws_base}&token={alice}", "speaker"),
        "bob": (f"{ws_base}&token={bob}", "listener"),
        "anonymous": (ws_base, "listener"),
    }

    def websocket_caller(who: str) -> None:
        url, role = sockets[who]
        with connect(url, open_timeout=20, close_timeout=5) as ws:
            own_id = None
            for _ in range(8):
                ws.send(json.dumps({"action": "join"}))
                while True:  # a listener's join tells the speaker the count: skip frames of other kinds
                    answer = json.loads(ws.recv(timeout=20))
                    if answer.get("type") in ("joined", "error") or "message" in answer:
                        break
                if answer.get("type") != "joined" or answer["role"] != role:
                    problems.append(f"{who} websocket: {answer}")
                    return
                own_id = own_id or answer["connectionId"]
                if answer["connectionId"] != own_id:
                    problems.append(f"{who} websocket: another connection's answer {answer}")

    def http_caller(name: str) -> None:
        for i in range(12):
            calls[name](i)

    started = time.monotonic()
    with ThreadPoolExecutor(len(calls) + len(sockets)) as pool:
        futures = [pool.submit(http_caller, name) for name in calls]
        futures += [pool.submit(websocket_caller, who) for who in sockets]
        for future in futures:
            future.result(timeout=120)
    assert time.monotonic() - started < 120

    assert not problems, problems[:10]
    assert len(statuses) == 12 * len(calls)
    assert not [s for s in statuses if s >= 500]
    title = requests.get(session, timeout=20).json()["title"]
    assert title.startswith("alice "), title


def test_a_module_level_value_set_by_one_invocation_is_never_seen_by_a_concurrent_one(faults: LocalStack) -> None:
    def marked(marker: str) -> dict[str, Any]:
        headers = {"x-test-marker": marker, "x-test-sleep": "0.5"}
        response = requests.get(_url(faults, "/health"), headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(marked, [f"caller-{i}" for i in range(4)]))
    assert [a["seen"] for a in answers] == [a["marker"] for a in answers]  # each saw only its own value
    assert len({a["pid"] for a in answers}) == 4  # concurrent events: four execution environments

    # One after another, an event finds the warm environment as the last one left it (module state kept).
    first, second = marked("again-1"), marked("again-2")
    if first["pid"] == second["pid"]:
        assert second["served"] > first["served"]


def test_a_result_json_cannot_carry_fails_as_on_lambda(faults: LocalStack) -> None:
    response = requests.get(_url(faults, "/health"), headers={"x-test-non-json": "1"}, timeout=30)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert requests.get(_url(faults, "/health"), timeout=30).status_code == 200


# -- faults ---------------------------------------------------------------------------------------------


def test_a_worker_killed_mid_request_is_a_crashed_integration_and_is_replaced(faults: LocalStack) -> None:
    alice = faults.mint("alice")
    session_id = create_session(faults, alice, title="before")
    session = _url(faults, f"/sessions/{session_id}")
    headers = {"Authorization": f"Bearer {alice}"}

    pending = _in_thread(
        lambda: requests.patch(session, json={"title": "after"}, headers={**headers, "x-test-sleep": "5"}, timeout=30)
    )
    os.kill(_busy_pid(faults, HTTP_FUNCTION), signal.SIGKILL)
    crashed = pending.result(timeout=30)
    assert crashed.status_code == 502
    assert crashed.json() == CRASHED

    after = requests.get(session, headers=headers, timeout=30)  # the stack goes on
    assert after.status_code == 200
    assert after.json()["title"] == "before"  # the killed request changed nothing
    renamed = requests.patch(session, json={"title": "renamed"}, headers=headers, timeout=30)
    assert renamed.status_code == 200 and renamed.json()["title"] == "renamed"


def test_a_worker_killed_mid_frame_is_a_crashed_integration_and_the_connection_goes_on(faults: LocalStack) -> None:
    alice = faults.mint("alice")
    session_id = create_session(faults, alice, title="live")
    assert faults.urls is not None
    with connect(f"{faults.urls.ws}/?sessionId={session_id}&token={alice}", open_timeout=20) as ws:
        ws.send(json.dumps({"action": "join"}))
        assert json.loads(ws.recv(timeout=20))["type"] == "joined"
        ws.send(json.dumps({"action": "ping", "testSleep": 5}))
        os.kill(_busy_pid(faults, CONNECTION_FUNCTION), signal.SIGKILL)
        failed = json.loads(ws.recv(timeout=20))
        assert failed["message"] == "Internal server error", failed
        ws.send(json.dumps({"action": "ping"}))
        assert json.loads(ws.recv(timeout=20))["type"] == "pong"
        ws.send(json.dumps({"action": "join"}))
        joined = json.loads(ws.recv(timeout=20))
        assert joined["type"] == "joined" and joined["role"] == "speaker"
        owner = {"Authorization": f"Bearer {alice}"}
        view = requests.get(_url(faults, f"/sessions/{session_id}"), headers=owner, timeout=30).json()
        assert view["status"] == "active" and view["speakerConnected"] is True  # the session's state is intact


def test_an_invocation_past_the_function_timeout_is_ended_like_a_crash(faults: LocalStack) -> None:
    started = time.monotonic()
    response = requests.get(_url(faults, "/health"), headers={"x-test-sleep": "60"}, timeout=60)
    took = time.monotonic() - started
    assert response.status_code == 502 and response.json() == CRASHED
    assert FUNCTION_TIMEOUT - 0.5 < took < FUNCTION_TIMEOUT + 10
    assert requests.get(_url(faults, "/health"), timeout=30).status_code == 200


def test_over_the_concurrency_limit_an_event_waits_then_is_throttled(faults: LocalStack) -> None:
    assert faults.functions is not None
    limit = faults.functions.pool(HTTP_FUNCTION).limit

    def slow(i: int) -> requests.Response:
        headers = {"x-test-marker": str(i), "x-test-sleep": "4"}
        return requests.get(_url(faults, "/health"), headers=headers, timeout=60)

    with ThreadPoolExecutor(limit + 1) as pool:
        answers = list(pool.map(slow, range(limit + 1)))
    served = [a for a in answers if a.status_code == 200]
    throttled = [a for a in answers if a.status_code != 200]
    assert len(served) == limit and len({a.json()["pid"] for a in served}) == limit
    assert [(a.status_code, a.json()) for a in throttled] == [(500, {"message": "Internal Server Error"})]


# -- logs -----------------------------------------------------------------------------------------------


def test_every_log_line_names_its_function_and_invocation_and_nothing_carries_over(
    faults: LocalStack, logs: Any
) -> None:
    alice = faults.mint("alice")
    session_id = create_session(faults, alice, title="logged")
    requests.get(_url(faults, f"/sessions/{session_id}"), timeout=30)
    assert faults.urls is not None
    with connect(f"{faults.urls.ws}/?sessionId={session_id}", open_timeout=20) as ws:
        ws.send(json.dumps({"action": "ping"}))
        json.loads(ws.recv(timeout=20))
    time.sleep(0.5)  # the $disconnect's lines
    logs.flush()
    logs.seek(0)
    lines = [json.loads(line) for line in logs.read().splitlines() if line.startswith('{"level"')]
    http = [line for line in lines if line.get("routeKey", "").startswith(("GET ", "POST ", "PATCH "))]
    ws_lines = [line for line in lines if line.get("connectionId")]
    assert http and ws_lines
    assert {line["function_name"] for line in http} == {HTTP_FUNCTION}
    assert {line["function_name"] for line in ws_lines} == {CONNECTION_FUNCTION}
    assert all(line.get("function_request_id") for line in lines), [x for x in lines if "function_request_id" not in x]
    assert not [line for line in ws_lines if "correlation_id" in line]  # an HTTP request's ID never leaks here
    # One invocation's keys stay with it: each request ID names one route of one function.
    routes: dict[str, set[str]] = {}
    for line in lines:
        if "routeKey" in line:
            routes.setdefault(line["function_request_id"], set()).add(line["routeKey"])
    assert all(len(keys) == 1 for keys in routes.values()), routes


# -- the one declaration --------------------------------------------------------------------------------


def test_serve_concurrency_overrides_the_declared_cap() -> None:
    from local.__main__ import build_parser
    from local.lambda_service.lambda_pools import Functions, PoolSettings

    args = build_parser().parse_args(["serve", "--concurrency", "3"])
    functions = Functions(HandlerSpec(), {}, PoolSettings(concurrency=args.concurrency))
    try:
        assert {name: functions.pool(name).limit for name in functions.functions} == dict.fromkeys(
            functions.functions, 3
        )
    finally:
        functions.stop()



# -- Lambda's Invoke API (a handler invoking another function) -------------------------------------------


def test_a_function_is_invoked_by_name_through_lambdas_invoke_api(faults: LocalStack) -> None:
    import boto3
    from botocore.exceptions import ClientError

    assert faults.urls is not None
    client = boto3.client(
        "lambda", endpoint_url=f"{faults.urls.http}/_lambda", region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )
    event = {"headers": {"x-test-marker": "direct"}}
    answer = client.invoke(FunctionName=HTTP_FUNCTION, Payload=json.dumps(event).encode())
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    result = json.loads(answer["Payload"].read())
    assert json.loads(result["body"])["seen"] == "direct"
    assert json.loads(result["body"])["pid"] in faults.functions.pool(HTTP_FUNCTION).all_pids()  # type: ignore[union-attr]

    failed = client.invoke(
        FunctionName=f"arn:aws:lambda:us-east-1:123456789012:function:{HTTP_FUNCTION}:$LATEST",
        Payload=json.dumps({"headers": {"x-test-non-json": "1"}}).encode(),
    )
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "Runtime.MarshalError"

    queued = client.invoke(FunctionName=HTTP_FUNCTION, InvocationType="Event", Payload=json.dumps(event).encode())
    assert queued["StatusCode"] == 202
    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
