"""The TypeScript client as an app installs it (issue 30): `npm install <path>` in a fresh `npm init -y`
project, from a copy of the package as a fresh clone has it (no dist/, no node_modules: its `prepare`
installs the pinned toolchain and builds), then `import` and `require()` both work, the types resolve
for both, a listener receives a broadcast from the local stack, and the packed tarball carries only the
library.

The toolchain comes from npm's cache when `make install` has filled it (`--prefer-offline`), else from the
registry; the app's `ws` (Node 20 has no global WebSocket) is the client's own pinned copy, by path.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.stack import LocalStack
from tests.clients.js_toolchain import JS, ensure_js_toolchain
from tests.clients.package_install import REPO, fresh_clone_copy, listener_receives_a_broadcast, run
from tests.support.local_stack import create_session, running_local_stack

pytestmark = pytest.mark.e2e

NPM_QUIET = ["--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]

LISTENER = """\
import WebSocket from "ws";
import { LiveSession } from "@live-sessions/client";

const [httpUrl, wsUrl, sessionId] = process.argv.slice(2);
const live = new LiveSession({ httpUrl, wsUrl, sessionId, WebSocket });
live.on("broadcast", (event) => {
  console.log(JSON.stringify({ broadcast: event.data, seq: event.seq }));
  live.close();
});
await live.connect();
console.log(JSON.stringify({ joined: live.role }));
"""

REQUIRER = """\
const client = require("@live-sessions/client");
import("@live-sessions/client").then((esm) => {
  console.log(JSON.stringify({ cjs: Object.keys(client).sort(), esm: Object.keys(esm).sort() }));
});
"""

# Both module systems' views of the types: a missing or unresolvable .d.ts is a compile error here.
CONSUMER_ESM = """\
import { LiveSession, MAX_FRAME_BYTES, type JoinedEvent } from "@live-sessions/client";
const limit: number = MAX_FRAME_BYTES;
export const connect = (live: LiveSession): Promise<JoinedEvent> => live.connect();
export { limit };
"""
CONSUMER_CJS = """\
import client = require("@live-sessions/client");
const limit: number = client.MAX_FRAME_BYTES;
export = { limit, LiveSession: client.LiveSession };
"""


def _fresh_clone_copy(into: Path) -> Path:
    """clients/js's files as git has them (tracked, plus new files not ignored), and the root LICENSE."""
    shutil.copy2(REPO / "LICENSE", into / "LICENSE")
    return fresh_clone_copy("clients/js", into)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh `npm init -y` project with the client installed from a fresh copy's path."""
    ensure_js_toolchain()
    package = _fresh_clone_copy(tmp_path_factory.mktemp("clone"))
    project = tmp_path_factory.mktemp("app")
    run(["npm", "init", "-y"], project)
    run(["npm", "install", *NPM_QUIET, str(package), str(JS / "node_modules" / "ws")], project)
    yield project


@pytest.fixture(scope="module")
def local() -> Iterator[LocalStack]:
    with running_local_stack() as stack:
        yield stack


def test_a_listener_installed_by_path_receives_a_broadcast(app: Path, local: LocalStack) -> None:
    assert local.urls is not None
    owner = local.mint("alice")
    session_id = create_session(local, owner)
    (app / "listener.mjs").write_text(LISTENER)
    command = ["node", "listener.mjs", local.urls.http, local.urls.ws, session_id]
    first = listener_receives_a_broadcast(command, app, {**os.environ}, local, session_id, owner)
    assert first == {"joined": "listener"}


def test_require_and_import_give_the_same_library(app: Path) -> None:
    (app / "requirer.cjs").write_text(REQUIRER)
    loaded = json.loads(run(["node", "requirer.cjs"], app))
    assert "LiveSession" in loaded["cjs"]
    assert loaded["cjs"] == loaded["esm"]


def test_types_ship_for_import_and_require(app: Path) -> None:
    (app / "consumer.mts").write_text(CONSUMER_ESM)
    (app / "consumer.cts").write_text(CONSUMER_CJS)
    options = {"strict": True, "noEmit": True, "module": "nodenext", "target": "es2022", "lib": ["es2022", "dom"]}
    config = {"compilerOptions": {**options, "types": []}, "files": ["consumer.mts", "consumer.cts"]}
    (app / "tsconfig.json").write_text(json.dumps(config))
    run(["node", str(JS / "node_modules" / "typescript" / "bin" / "tsc"), "-p", "tsconfig.json"], app)


def test_the_tarball_carries_the_library_only(app: Path) -> None:
    package = (app / "node_modules" / "@live-sessions" / "client").resolve()
    # What the repository's own build leaves beside the library (the console page, make's stamp).
    run(["node", "scripts/bundle.mjs", "console"], package)
    (package / "dist" / ".built").touch()
    # --ignore-scripts: `prepare` already built the library when the app installed it.
    packed = json.loads(run(["npm", "pack", "--dry-run", "--json", "--ignore-scripts", *NPM_QUIET], package))[0]
    files = {entry["path"] for entry in packed["files"]}
    for needed in (
        "package.json",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/cjs/index.js",
        "dist/cjs/index.d.ts",
        "dist/cjs/package.json",
        "dist/browser/live-sessions.js",
    ):
        assert needed in files, needed
    not_library = ("dist/console", "console/", "test/", "scripts/", ".test-build")
    assert not [name for name in files if name.startswith(not_library)]
    assert "dist/.built" not in files
    manifest = json.loads((package / "package.json").read_text())
    assert manifest["license"] == "MIT"
    assert manifest["version"] == packed["version"]
    assert "MIT License" in (package / "LICENSE").read_text()
