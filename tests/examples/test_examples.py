"""The runnable examples in examples/, run as their docstrings say, against a local stack started here.

The producer (`examples/producer.py`, a subprocess) creates a session, waits for one listener and publishes
two broadcasts; the listener page (`examples/listener.html`, in Debian's headless chromium, served from its
own origin as a developer would serve it) joins that session and shows both, in order, then the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.cli import REPO, cli_env
from tests.support.local_stack import running_local_stack

pytestmark = pytest.mark.e2e

JS = REPO / "clients" / "js"
BUNDLE = JS / "dist" / "browser" / "live-sessions.js"
CHROMIUM = Path("/usr/bin/chromium")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _browser_bundle() -> None:
    """The TypeScript client's browser bundle, as `make dev` builds it (esbuild: `npm run bundle`), when missing
    or older than its sources."""
    sources = [*(JS / "src").rglob("*.ts"), JS / "scripts" / "bundle.mjs"]
    if BUNDLE.exists() and BUNDLE.stat().st_mtime >= max(source.stat().st_mtime for source in sources):
        return
    if not (JS / "node_modules" / "esbuild").exists():
        pytest.fail("clients/js has no node_modules to build its browser bundle: `make install` first (npm ci there)")
    built = subprocess.run(["npm", "run", "bundle"], cwd=JS, capture_output=True, text=True, timeout=180)
    assert built.returncode == 0 and BUNDLE.exists(), built.stdout + built.stderr


@contextmanager
def _served_like_the_repository(root: Path) -> Iterator[str]:
    """examples/ and the bundle at their repository paths, on a port of their own (another origin than the API)."""
    (root / "clients" / "js" / "dist").mkdir(parents=True)
    (root / "examples").symlink_to(REPO / "examples")
    (root / "clients" / "js" / "dist" / "browser").symlink_to(BUNDLE.parent)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Page:
    """One headless chromium tab, driven over the DevTools protocol (no driver library)."""

    def __init__(self, devtools: Any) -> None:
        self.devtools = devtools
        self.calls = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.calls += 1
        self.devtools.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            answer = json.loads(self.devtools.recv(timeout=10))
            if answer.get("id") == self.calls:
                assert "error" not in answer, answer
                result: dict[str, Any] = answer["result"]
                return result

    def text(self, selector: str) -> Any:
        """The texts of what `selector` matches, read in the page."""
        expression = f"[...document.querySelectorAll({json.dumps(selector)})].map(node => node.textContent)"
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"]["value"]

    def wait_for_text(self, selector: str, expected: list[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (found := self.text(selector)) != expected:
            assert time.monotonic() < deadline, f"{selector}: {found} (expected {expected})"
            time.sleep(0.1)


@contextmanager
def _chromium_page(profile: Path) -> Iterator[Page]:
    """Debian's chromium, headless, with its DevTools port open; its first tab."""
    from websockets.sync.client import connect

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium (as root)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0"]
    browser = subprocess.Popen(
        [str(CHROMIUM), *flags, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(NO_PROXY.open(f"http://127.0.0.1:{port}/json/list", timeout=10))
        tab = next(target for target in targets if target["type"] == "page")
        with connect(tab["webSocketDebuggerUrl"], max_size=None, proxy=None) as devtools:
            yield Page(devtools)
    finally:
        browser.terminate()
        browser.wait(timeout=10)


def test_the_listener_page_shows_what_the_producer_publishes(tmp_path: Path) -> None:
    _browser_bundle()
    with running_local_stack() as local, _served_like_the_repository(tmp_path / "site") as origin:
        assert local.urls is not None
        command = [sys.executable, "examples/producer.py", "--http-url", local.urls.http, "--ws-url", local.urls.ws]
        command += ["--token", local.mint("alice"), "--wait-listeners", "1", "--end"]
        with (
            subprocess.Popen(
                command,
                cwd=REPO,
                env=cli_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ) as producer,
            _chromium_page(tmp_path / "chromium") as page,
        ):
            try:
                assert producer.stdout is not None
                session_id = producer.stdout.readline().strip()
                query = {"session": session_id, "http": local.urls.http, "ws": local.urls.ws}
                page.call("Page.navigate", url=f"{origin}/examples/listener.html?{urlencode(query)}")
                # What the producer publishes is typed once the page has joined (a broadcast between the
                # listener's connect and its join is one the join's session view already counts).
                page.wait_for_text("#state", ["connected"])
                published, problems = producer.communicate("first\nsecond\n", timeout=60)
                page.wait_for_text("#broadcasts li", ["first", "second"])
                page.wait_for_text("#state", ["closed (ended)"])
            finally:
                if producer.poll() is None:
                    producer.kill()
            assert producer.returncode == 0, problems
            acknowledged = [json.loads(line) for line in published.splitlines()]
            assert [(sent["text"], sent["delivered"]) for sent in acknowledged] == [("first", 1), ("second", 1)]
            assert acknowledged[0]["seq"] < acknowledged[1]["seq"]

            unknown = urlencode({**query, "session": "nope-nope-000"})
            page.call("Page.navigate", url=f"{origin}/examples/listener.html?{unknown}")
            page.wait_for_text("#state", ["refused: SESSION_NOT_FOUND"])
