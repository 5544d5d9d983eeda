"""`python -m local serve` as `make dev` runs it: prints both URLs and the console's when ready, and they work
(a token from `python -m local token` creates a session over the printed HTTP URL, a listener joins it over the printed
WebSocket URL); Ctrl-C (SIGINT to the whole foreground process group, as a terminal sends it) and SIGTERM
close the open WebSockets first, then stop everything, every worker process included, with exit code 0."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from local import console
from local.cognito import LocalIssuer
from local.stack import issuer_url
from tests.support.cli import REPO, Cli, alive, descendants
from tests.support.cli import cli_env as _env
from tests.support.cli import free_port as _free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_token_and_clean_stop(tmp_path: Path, stop_signal: signal.Signals, sockets: ExitStack) -> None:
    http_port, ws_port = _free_port(), _free_port()
    state = tmp_path / "state"
    out = (tmp_path / "out.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "local", "serve", "--http-port", str(http_port), "--ws-port", str(ws_port),
         "--state-dir", str(state), "--sweep-interval", "0"],
        cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=_env(),
        start_new_session=True,  # its own process group, as a shell's foreground job: Ctrl-C reaches the group
    )
    listener = None
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops." not in (tmp_path / "out.log").read_text():
            assert server.poll() is None, (tmp_path / "out.log").read_text()
            assert time.monotonic() < deadline, "the local stack did not report ready"
            time.sleep(0.1)
        banner = (tmp_path / "out.log").read_text()
        assert "WARNING" not in banner  # every handler imported
        printed = dict(re.findall(r"^  (HTTP API|WebSocket API): +(\S+)$", banner, re.MULTILINE))
        assert printed == {"HTTP API": f"http://127.0.0.1:{http_port}", "WebSocket API": f"ws://127.0.0.1:{ws_port}"}
        assert f"--ws-url {printed['WebSocket API']}" in banner  # the `listen` hint points at the same server

        base = printed["HTTP API"]
        assert requests.get(f"{base}/health", timeout=10).status_code == 200
        # The console's URL, which serves the page once `make console` (or `make dev`) has built it.
        console_url = re.search(r"^  Console: +(\S+)", banner, re.MULTILINE)
        assert console_url is not None and console_url.group(1) == f"{base}/console/", banner
        page = requests.get(console_url.group(1), timeout=10)
        assert page.status_code == (200 if console.is_built() else 404), page.text
        assert ("not built" in banner) != console.is_built(), banner
        token = subprocess.run(
            [sys.executable, "-m", "local", "token", "alice", "--http-port", str(http_port), "--state-dir", str(state)],
            cwd=REPO, env=_env(), capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
        created = requests.post(
            f"{base}/sessions", json={"title": "cli"}, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert created.status_code == 201, created.text

        session_id = created.json()["sessionId"]
        url = f"{printed['WebSocket API']}/?sessionId={session_id}"
        listener = sockets.enter_context(connect(url, open_timeout=10, close_timeout=5))
        listener.send(json.dumps({"action": "join"}))
        assert json.loads(listener.recv(timeout=10))["type"] == "joined"
        workers = descendants(server.pid)  # each function's template and its worker processes
        assert len(workers) >= 6, workers
    finally:
        if stop_signal == signal.SIGINT:
            os.killpg(server.pid, signal.SIGINT)  # Ctrl-C
        else:
            server.send_signal(stop_signal)
        try:
            code = server.wait(timeout=40)
        finally:
            if server.poll() is None:
                server.kill()
            out.close()
    log = (tmp_path / "out.log").read_text()
    assert code == 0, log[-2000:]
    assert "local stack stopped" in log
    assert "Traceback" not in log, log[-2000:]
    assert not alive(workers), "worker processes left behind"

    assert listener is not None
    with pytest.raises(ConnectionClosed) as closed:  # closed by the server as it stopped, not dropped
        while True:
            listener.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001, closed.value


SEED_KINDS = [
    {"name": "image", "contentTypes": ["image/png"]},
    {"name": "reference-frames", "contentTypes": ["image/png"], "processor": "stager"},
]


def test_serve_with_an_artifact_kinds_file_accepts_the_kinds_it_declares(tmp_path: Path) -> None:
    """`serve --artifact-kinds <file>` (as `cdk synth -c artifactKinds=<file>`): the seeds' `reference-frames` is
    accepted, and a kind the file does not declare is refused naming the declared ones."""
    kinds = tmp_path / "kinds.json"
    kinds.write_text(json.dumps(SEED_KINDS))
    http_port, ws_port, state = _free_port(), _free_port(), tmp_path / "state"
    server = Cli(
        tmp_path, "serve", "serve", "--http-port", str(http_port), "--ws-port", str(ws_port),
        "--state-dir", str(state), "--sweep-interval", "0", "--artifact-kinds", str(kinds),
        start_new_session=True,
    )
    try:
        server.wait_until(lambda cli: "Ctrl-C stops." in cli.stdout, "the ready banner", timeout=90)
        base = f"http://127.0.0.1:{http_port}"
        token = LocalIssuer.load_or_create(state, issuer_url("127.0.0.1", http_port)).mint("alice")
        auth = {"Authorization": f"Bearer {token}"}
        session_id = requests.post(f"{base}/sessions", json={}, headers=auth, timeout=10).json()["sessionId"]

        def create(kind: str) -> requests.Response:
            body = {"kind": kind, "contentType": "image/png", "fileName": "frame-1.png"}
            return requests.post(f"{base}/sessions/{session_id}/artifacts", json=body, headers=auth, timeout=10)

        accepted = create("reference-frames")
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["artifact"]["kind"] == "reference-frames"
        refused = create("frames")  # a default kind this deployment does not declare
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "kind"
        assert "image, reference-frames" in refused.json()["error"]["message"]
        server.process.send_signal(signal.SIGTERM)
        assert server.wait(timeout=40) == 0, server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "No such file"),
        ("[{\"name\": \"image\"", "Expecting"),
        (json.dumps([{"name": "page", "contentTypes": ["text/html"]}]), "kinds.0: kind 'page': text/html may not be"),
    ],
    ids=["missing", "not-json", "active-content"],
)
def test_serve_with_a_bad_artifact_kinds_file_exits_naming_the_file_and_the_fault(
    tmp_path: Path, content: str | None, said: str
) -> None:
    kinds = tmp_path / "kinds.json"
    if content is not None:
        kinds.write_text(content)
    server = Cli(tmp_path, "serve", "serve", "--http-port", str(_free_port()), "--ws-port", str(_free_port()),
                 "--state-dir", str(tmp_path / "state"), "--artifact-kinds", str(kinds))
    try:
        assert server.wait(timeout=60) == 1, server
        assert f"--artifact-kinds: artifact kinds file {str(kinds)!r}" in server.stderr, server
        assert said in server.stderr and "Traceback" not in server.stderr, server
        assert "pydantic.dev" not in server.stderr and len(server.stderr.splitlines()) == 1, server  # one clear line
        assert "Ctrl-C stops." not in server.stdout  # nothing was started
    finally:
        server.stop()
