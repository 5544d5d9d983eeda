"""Fuzzing through the local stack: real HTTP and WebSocket clients, the local API Gateway stand-ins and
the real handlers.

Schemathesis against the stack's own `/openapi.json`: every documented operation, generated inputs
(valid and invalid), sent over real HTTP.

Checks: no 5xx (`not_a_server_error`), and every answer matches the document
(`response_schema_conformance`: a documented status with a body of the documented shape), with no
exception: no authorizer answers in front of the handler (infra/http_api.py), so a 401 for a request
whose token a negative case dropped or mangled is the handler's, in the documented ErrorResponse. Requests
carry a valid bearer token; a share of them aim at a real session that token owns, so owner-only writes
(PATCH, DELETE, messages, artifacts) are exercised, not just 404s.

WebSocket frames: random JSON, text and bytes (tests/fuzz/frames.py) over a real socket from a listener;
each is answered (no crash, no INTERNAL_ERROR, the connection stays open) and another listener of the
same session still gets the broadcast that follows.
"""

from __future__ import annotations

import hashlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from session_schema.routes import HTTP_ROUTES

from tests.fuzz.frames import ANSWERS, LISTENER_ERRORS, frames
from tests.local_stack import create_session

pytestmark = pytest.mark.e2e

FUZZER = "fuzzer-1"
MAX_EXAMPLES = 13  # per generation mode: ~25 cases per operation


@pytest.fixture(scope="module")
def api_schema(stack):
    return schemathesis.openapi.from_url(stack.urls.http + "/openapi.json", timeout=15)


@pytest.fixture(scope="module")
def owned(stack):
    """(token, sessionId of a session that token owns); refreshed when a fuzzed DELETE ends it."""
    token = stack.mint(FUZZER)

    def fresh() -> str:
        return create_session(stack, token, title="fuzzed")

    state = {"token": token, "fresh": fresh, "sessionId": fresh()}
    return state


def _operation(api_schema, method: str, path: str):
    try:
        return api_schema[path][method]
    except KeyError:
        pytest.fail(f"{method} {path} is in the route table but not in the served /openapi.json")


# Routes that take no input at all (no parameters, no body): there is nothing to make invalid, so they are
# fuzzed with valid cases only. `test_inputless_routes_really_take_no_input` keeps this set honest.
INPUTLESS = frozenset({"GET /health", "GET /openapi.json"})
CASES = [
    pytest.param(route, mode, id=f"{route.route_key}-{mode}")
    for route in HTTP_ROUTES
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if not (mode is GenerationMode.NEGATIVE and route.route_key in INPUTLESS)
]


def test_inputless_routes_really_take_no_input(api_schema):
    for route_key in INPUTLESS:
        method, path = route_key.split(" ", 1)
        definition = _operation(api_schema, method, path).definition.raw
        assert not definition.get("parameters") and "requestBody" not in definition, route_key


@pytest.mark.parametrize(("route", "mode"), CASES)
def test_every_operation_answers_within_its_contract(route, mode, api_schema, stack, owned):
    operation = _operation(api_schema, route.method, route.path)
    headers = {"Authorization": f"Bearer {owned['token']}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a failure here is reproducible, not flaky
        database=None,
    )
    def run(case) -> None:
        # Half the cases that name a session point at one the caller owns (chosen from the case itself,
        # so the choice is as reproducible as the case): owner-only writes run, not only 404s.
        if "sessionId" in (case.path_parameters or {}):
            digest = hashlib.sha256(repr(sorted(case.path_parameters.items())).encode()).digest()
            if digest[0] % 2 == 0:
                case.path_parameters["sessionId"] = owned["sessionId"]
        response = case.call(base_url=stack.urls.http, headers=headers, timeout=15)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if route.route_key == "DELETE /sessions/{sessionId}" and response.status_code == 204:
            owned["sessionId"] = owned["fresh"]()  # keep a joinable session for the next cases

    run()


# -- WebSocket frames over a real socket -------------------------------------------------------------------


def _ws(stack, session_id: str, token: str | None = None):
    from urllib.parse import urlencode

    from websockets.sync.client import connect

    query = urlencode({"sessionId": session_id, **({"token": token} if token else {})})
    return connect(f"{stack.urls.ws}/?{query}", proxy=None, compression=None, open_timeout=15, max_queue=None)


def _next(ws, kind: str, timeout: float = 10.0) -> dict:
    import json
    import time

    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message.get("type") == kind:
            return message


def test_random_frames_over_a_real_socket_are_answered_and_harm_no_one(stack, owned):
    import json

    session_id = owned["fresh"]()
    with (
        _ws(stack, session_id, owned["token"]) as speaker,
        _ws(stack, session_id) as fuzzer,
        _ws(stack, session_id) as bystander,
    ):

        @given(frame=frames)
        @settings(
            max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(frame) -> None:
            fuzzer.send(frame)
            answer = json.loads(fuzzer.recv(timeout=10))
            assert answer.get("type") in ANSWERS, (frame, answer)
            if answer["type"] == "error":
                assert answer["code"] in LISTENER_ERRORS, (frame, answer)

        run()
        speaker.send(json.dumps({"action": "broadcast", "data": {"after": "fuzzing"}}))
        assert _next(speaker, "broadcastSent")["delivered"] == 2
        assert _next(bystander, "broadcast")["data"] == {"after": "fuzzing"}
        assert _next(fuzzer, "broadcast")["data"] == {"after": "fuzzing"}  # still connected, still served
