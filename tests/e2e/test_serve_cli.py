"""`python -m local serve` as `make dev` runs it: prints both URLs when ready, accepts a token from
`python -m local token`, and stops cleanly (exit 0) on SIGINT and on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "PYTEST"))}
    env.pop("PYTHONPATH", None)  # as from a shell: `python -m local` must find everything by itself
    return env


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_token_and_clean_stop(tmp_path: Path, stop_signal: signal.Signals) -> None:
    http_port, ws_port = _free_port(), _free_port()
    state = tmp_path / "state"
    out = (tmp_path / "out.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "local", "serve", "--http-port", str(http_port), "--ws-port", str(ws_port),
         "--state-dir", str(state), "--sweep-interval", "0"],
        cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops." not in (tmp_path / "out.log").read_text():
            assert server.poll() is None, (tmp_path / "out.log").read_text()
            assert time.monotonic() < deadline, "the local stack did not report ready"
            time.sleep(0.1)
        banner = (tmp_path / "out.log").read_text()
        assert f"HTTP API:      http://127.0.0.1:{http_port}" in banner
        assert f"WebSocket API: ws://127.0.0.1:{ws_port}" in banner
        assert "WARNING" not in banner  # every handler imported

        base = f"http://127.0.0.1:{http_port}"
        assert requests.get(f"{base}/health", timeout=10).status_code == 200
        token = subprocess.run(
            [sys.executable, "-m", "local", "token", "alice", "--http-port", str(http_port), "--state-dir", str(state)],
            cwd=REPO, env=_env(), capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
        created = requests.post(
            f"{base}/sessions", json={"title": "cli"}, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert created.status_code == 201, created.text
    finally:
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
