"""The TypeScript client (clients/js) and the console page, in `make test`: their node tests (node --test)
run against a local stack started here, so a failure there fails here, with node's report as the reason.

The pinned toolchain comes from clients/js/package-lock.json (`npm ci` when node_modules does not hold it;
`make install` does the same),
then the browser bundles (`npm run bundle`) and one type-checked compile of the client, the console and
its tests (`npm run build:test`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from local.stack import LocalStack
from tests.clients.js_toolchain import ensure_js_toolchain

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "clients" / "js"
CHROMIUM = Path("/usr/bin/chromium")
USERS = ("alice", "bob")


def _run(command: list[str], *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=JS, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _require(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")


@pytest.fixture(scope="module")
def js_build() -> None:
    ensure_js_toolchain()
    # The browser bundles (esbuild), then one tsc run that type-checks the client, the console and the tests.
    _require(_run(["npm", "run", "bundle"], timeout=180), "npm run bundle")
    _require(_run(["npm", "run", "build:test"], timeout=180), "npm run build:test")


def node_test(stack: LocalStack, *files: str, timeout: float = 120, **extra_env: str) -> None:
    """Runs compiled test files with node's own runner against `stack`; fails with node's report."""
    assert stack.urls is not None
    env = {
        **os.environ,
        "LIVE_SESSIONS_HTTP": stack.urls.http,
        "LIVE_SESSIONS_WS": stack.urls.ws,
        "LIVE_SESSIONS_TOKENS": json.dumps({user: stack.mint(user) for user in USERS}),
        **extra_env,
    }
    paths = [f".test-build/test/{name}.test.js" for name in files]
    command = ["node", "--test", "--test-reporter=spec", "--test-concurrency=1", "--test-timeout=60000", *paths]
    try:
        result = _run(command, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as stuck:
        pytest.fail(f"node --test {' '.join(files)} did not finish in {timeout} s:\n{stuck.stdout!r}"[-6000:])
    _require(result, f"node --test {' '.join(files)}")


def test_client_rules(js_build: None, stack: LocalStack) -> None:
    """Seq order, de-duplication, gap recovery, resume, refusal reasons, request IDs, keepalive, backoff;
    CONNECTION_NOT_FOUND as a drop, the integration error, token renewal, Retry-After, batch, missing, the
    frame limit; the scripted-server table both clients run (tests/clients/scripted_cases.json) and its presence
    checks; and no runtime dependency (the browser bundle imports nothing)."""
    node_test(stack, "client.unit", "crashproof.unit", "presence.unit", "scripted", "package")


def test_client_against_the_local_stack(js_build: None, stack: LocalStack) -> None:
    """Join, broadcast, pause, end, reconnect and resume, refusal codes; presence, reactions and kick: with the
    real handlers."""
    node_test(stack, "stack", "presence.stack")


def test_client_channels_against_the_local_stack(js_build: None, stack: LocalStack) -> None:
    """Channels with the real handlers: subscribe switches streams, a drop resumes both, publish over HTTP to a
    channel, INVALID_CHANNEL (from the handshake, and from `session.channels` as a browser learns it)."""
    node_test(stack, "channels")


def test_artifacts_client_against_the_local_stack(js_build: None, stack: LocalStack) -> None:
    # upload with the presigned form, the state storage confirmed, sharing, a listener's download, deletes
    node_test(stack, "artifacts")


def test_client_protocol_matches_the_asyncapi_document(js_build: None, stack: LocalStack) -> None:
    """The client's declared actions and events, and their required fields, are the server's."""
    node_test(stack, "protocol")


def test_console_in_headless_chromium(js_build: None, stack: LocalStack, tmp_path: Path) -> None:
    """The console page from another origin joins as a listener and shows a broadcast; the whole debugging
    flow at 1280 and 420 px wide (layout, controls, seq column). Screenshots go to pytest's temporary
    directory, never into the repository."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium (as root)")
    node_test(stack, "browser", LIVE_SESSIONS_SCREENSHOTS=str(tmp_path), CHROMIUM=str(CHROMIUM))
