"""The real deploy path: `cdk deploy` of the synthesized stack into the local AWS emulator (ministack),
then the contract's main flow over the deployed URLs, with a token from the emulator's Cognito.

One emulator per module, on a free port, with empty state in a temp dir (`infra.emulate.running_stack`):
bootstrap, deploy, the tests, `cdk destroy`, stop. The emulator runs in its own process group, which is
killed on the way out whatever happened (a failing test, a timeout, Ctrl-C), so nothing survives the run.

Known emulator differences the assertions allow for (docs/deploying.md, infra/emulator.py): a refused `$connect` is
HTTP 403 whatever status the handler returned (AWS answers the handler's 410 SESSION_ENDED), and the
emulator keeps neither that answer nor the handler's log lines of a WebSocket invocation (they are in
neither ministack.log nor the function's log group), so the handler's own refusal is checked by invoking
the deployed function with the same `$connect` event; the emulator's `apigw-requestid` response header is
its own ID, not the event's `requestContext.requestId` that the handler puts in error bodies (on AWS they
are one value; the local stack checks that, tests/e2e); IAM is not enforced (tests/infra checks the
policies); Lambdas run on the emulator venv's Python.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from session_schema.ids import SESSION_ID_PATTERN

from infra import emulate
from tests.support.contract import PUBLIC_FIELDS
from tests.support.ws_events import connect_event, new_connection_id

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(480)]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0  # per HTTP call / awaited frame: a cold Lambda start on the emulator takes about a second


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulate.Deployed]:
    missing = [p for p in (emulate.EMULATOR_VENV / "bin" / "ministack", emulate.CDK) if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(map(str, missing))}: run `make install`", pytrace=False)
    state_dir = tmp_path_factory.mktemp("emulator")
    with open(state_dir / "cdk.log", "w") as log:
        try:
            with emulate.running_stack(
                port=emulate.free_port(), state_dir=state_dir, persist=False, log=log
            ) as deployed:
                yield deployed
        except emulate.EmulatorError as error:
            log.flush()
            pytest.fail(f"{error}\n--- cdk log tail ---\n{_tail(state_dir / 'cdk.log')}", pytrace=False)


def _tail(path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(none)"


def _http(deployed: emulate.Deployed, method: str, path: str, token: str | None = None, **kwargs: Any):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{deployed.http_url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def test_the_emulator_constants_are_the_stacks():
    from infra.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION

    assert (emulate.ACCOUNT, emulate.REGION) == (EMULATOR_ACCOUNT, EMULATOR_REGION)


def test_deployed_urls_are_the_emulators(deployed):
    assert deployed.http_url.startswith(f"{deployed.endpoint}/_aws/execute-api/")
    assert deployed.ws_url.startswith(f"ws://127.0.0.1:{deployed.endpoint.rsplit(':', 1)[1]}/_aws/execute-api/")
    assert deployed.ws_url.endswith(f"/{emulate.STAGE}")
    assert deployed.outputs["WebSocketCallbackUrl"] == "http" + deployed.ws_url[len("ws") :]


def test_health_and_the_contract_s_401_without_a_valid_token(deployed):
    response = _http(deployed, "GET", "/health")
    assert response.status_code == 200, response.text
    # No gateway authorizer is deployed: the handler itself refuses, in the contract's error shape.
    for token in (None, "not-a-jwt"):
        refused = _http(deployed, "POST", "/sessions", token=token, json={})
        assert refused.status_code == 401, (token, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "UNAUTHORIZED" and error["message"] and error["requestId"], (token, error)
        assert refused.headers["www-authenticate"].startswith("Bearer"), token


async def _next(ws, predicate: Callable[[dict], bool], seen: list[dict]) -> dict:
    """The next frame matching `predicate`; every frame read is kept in `seen` (for failure messages)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no matching frame within {TIMEOUT} s; frames: {seen}")
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        seen.append(frame)
        if predicate(frame):
            return frame


def _of_type(kind: str) -> Callable[[dict], bool]:
    return lambda frame: frame.get("type") == kind


def _session_url(deployed: emulate.Deployed, session_id: str, token: str | None = None) -> str:
    return f"{deployed.ws_url}?sessionId={session_id}" + (f"&token={token}" if token else "")


async def _main_flow(deployed: emulate.Deployed, token: str) -> None:
    # 1. a speaker creates a session over HTTP with a token from the emulator's Cognito
    created = _http(deployed, "POST", "/sessions", token, json={"title": "Emulated deploy"})
    assert created.status_code == 201, created.text
    session = created.json()
    session_id = session["sessionId"]
    assert re.fullmatch(SESSION_ID_PATTERN, session_id), session_id
    assert session["status"] == "active"

    # 2. anyone reads the public view
    public = _http(deployed, "GET", f"/sessions/{session_id}")
    assert public.status_code == 200, public.text
    assert set(public.json()) == PUBLIC_FIELDS
    assert public.json()["title"] == "Emulated deploy"

    listener_frames: list[dict] = []
    speaker_frames: list[dict] = []
    # 3. a listener connects (anonymous) and joins
    async with websockets.connect(_session_url(deployed, session_id), open_timeout=TIMEOUT) as listener:
        await listener.send(json.dumps({"action": "join"}))
        joined = await _next(listener, _of_type("joined"), listener_frames)
        assert joined["role"] == "listener"
        assert joined["session"]["sessionId"] == session_id
        assert joined["session"]["listenerCount"] == 1

        # 4. the speaker connects with its token and joins
        async with websockets.connect(_session_url(deployed, session_id, token), open_timeout=TIMEOUT) as speaker:
            await speaker.send(json.dumps({"action": "join"}))
            joined = await _next(speaker, _of_type("joined"), speaker_frames)
            assert joined["role"] == "speaker", joined

            # 5. the speaker broadcasts; the listener gets it, through the deployed handler's
            #    post_to_connection on the emulator's @connections endpoint (WS_CALLBACK_URL)
            await speaker.send(json.dumps({"action": "broadcast", "data": {"text": "hello, emulator"}}))
            broadcast = await _next(listener, _of_type("broadcast"), listener_frames)
            assert broadcast["data"] == {"text": "hello, emulator"}
            assert isinstance(broadcast["seq"], int) and broadcast["seq"] >= 1
            assert isinstance(broadcast["ts"], int)

            # 6. the owner ends the session over HTTP: the listener is told, then disconnected
            ended = _http(deployed, "DELETE", f"/sessions/{session_id}", token)
            assert ended.status_code == 204, ended.text
            await _next(listener, _of_type("sessionEnded"), listener_frames)
            with pytest.raises(ConnectionClosed):
                await _next(listener, lambda frame: False, listener_frames)

    assert _http(deployed, "GET", f"/sessions/{session_id}").json()["status"] == "ended"
    # repeatable
    assert _http(deployed, "DELETE", f"/sessions/{session_id}", token).status_code == 204

    # 7. a new connection to the ended session is refused. The handler answers 410 SESSION_ENDED (as on
    #    AWS); the emulator turns every refused $connect into HTTP 403 (a known difference) and drops the
    #    handler's answer and log output, so a 403 alone would also be any other failure of the handler.
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(_session_url(deployed, session_id), open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 403
    #    The handler's own answer: the same $connect, straight to the deployed function (Lambda Invoke
    #    returns what it answered and the tail of what it logged).
    answer, logged = _invoke_connect(deployed, session_id)
    assert answer["statusCode"] == 410, answer
    assert json.loads(answer["body"])["error"]["code"] == "SESSION_ENDED", answer
    refusals = [line for line in logged if line.get("message") == "connect refused"]
    assert refusals, f"the handler logged no refusal: {logged}"
    assert {k: refusals[-1].get(k) for k in ("sessionId", "code", "status", "actualStatus")} == {
        "sessionId": session_id,
        "code": "SESSION_ENDED",
        "status": 410,
        "actualStatus": "ended",
    }


def _invoke_connect(deployed: emulate.Deployed, session_id: str) -> tuple[dict, list[dict]]:
    """A `$connect` for `session_id` sent to the deployed ConnectionFunction: (its answer, its JSON log lines)."""
    client = emulate.boto_client("lambda", deployed.endpoint)
    (name,) = [
        f["FunctionName"]
        for page in client.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if f["FunctionName"].startswith(f"{emulate.stack_name()}-ConnectionFunction")
    ]
    event = connect_event(new_connection_id(), {"sessionId": session_id})
    result = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    assert "FunctionError" not in result, result
    log = base64.b64decode(result.get("LogResult", "")).decode(errors="replace")
    lines = []
    for text in log.splitlines():
        if text.startswith("{"):
            try:
                lines.append(json.loads(text))
            except ValueError:
                pass  # the 4 KB tail may cut its first line
    return json.loads(result["Payload"].read()), lines


def test_main_flow_over_the_deployed_apis(deployed):
    token = deployed.token("speaker@example.com")
    asyncio.run(_main_flow(deployed, token))


def test_a_token_is_minted_against_the_emulators_cognito(deployed):
    import jwt

    claims = jwt.decode(deployed.token("another.speaker@example.com"), options={"verify_signature": False})
    assert claims["iss"] == f"https://cognito-idp.{emulate.REGION}.amazonaws.com/{deployed.user_pool_id}"
    assert claims["aud"] == deployed.client_id
    assert claims["token_use"] == "id"
    # and the stack lists this user's (empty) sessions with it
    listed = _http(deployed, "GET", "/sessions", deployed.token("another.speaker@example.com"))
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


def _speaker_command(deployed: emulate.Deployed, *args: str, stdin: str | None = None):
    """`python -m infra.speaker ...` as an operator runs it, with the emulator's banner line as its environment."""
    return subprocess.run(
        [sys.executable, "-m", "infra.speaker", *args],
        env=emulate.aws_environ(deployed.endpoint),
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
    )


def test_the_speaker_command_creates_a_speaker_whose_token_the_stack_accepts(deployed):
    import jwt

    email = "cli.speaker@example.com"
    created = _speaker_command(deployed, "create", email)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert jwt.decode(token, options={"verify_signature": False})["email"] == email
    password = created.stderr.rsplit("password (shown once): ", 1)[1].strip()
    # The stack accepts it, and pages its sessions with cursors sealed under the deployed secret.
    for title in ("one", "two"):
        assert _http(deployed, "POST", "/sessions", token, json={"title": title}).status_code == 201
    first = _http(deployed, "GET", "/sessions", token, params={"limit": 1}).json()
    rest = _http(deployed, "GET", "/sessions", token, params={"limit": 1, "cursor": first["nextCursor"]}).json()
    assert [s["title"] for s in first["items"] + rest["items"]] == ["two", "one"]
    tampered = _http(deployed, "GET", "/sessions", token, params={"cursor": first["nextCursor"][:-4] + "AAAA"})
    assert tampered.status_code == 400 and tampered.json()["error"]["field"] == "cursor", tampered.text

    signed_in = _speaker_command(deployed, "token", email, "--password-stdin", stdin=password + "\n")
    assert signed_in.returncode == 0, signed_in.stderr
    assert _http(deployed, "GET", "/sessions", signed_in.stdout.strip()).status_code == 200
    wrong = _speaker_command(deployed, "token", email, "--password-stdin", stdin="not-the-password\n")
    assert (wrong.returncode, wrong.stdout) == (1, "") and "wrong email or password" in wrong.stderr
