"""The Python client as an app installs it (issue 30): a fresh venv (`python -m venv`) installs it with pip from a
copy of clients/python as a fresh clone has it (websockets comes from the package index), and a listener run by
that venv's Python, outside the repository, receives a broadcast from the local stack. The wheel pip builds
carries the library, its `py.typed` and the licence, nothing else; its metadata says MIT, the readme, and the
version the TypeScript client has (one client in two languages), which the CHANGELOG describes."""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

from local.stack import LocalStack
from tests.clients.package_install import REPO, fresh_clone_copy, listener_receives_a_broadcast, run
from tests.support.local_stack import create_session, running_local_stack

PACKAGE = REPO / "clients" / "python"
LIBRARY = "live_sessions_client"
PIP_QUIET = ["--disable-pip-version-check", "--no-input", "-q"]

LISTENER = """\
import asyncio, json, sys

import live_sessions_client
from live_sessions_client import LiveSession


async def main(ws_url: str, session_id: str) -> None:
    async with LiveSession(ws_url, session_id) as live:
        print(json.dumps({"joined": live.role, "from": live_sessions_client.__file__}), flush=True)
        async for event in live:
            if event["type"] == "broadcast":
                print(json.dumps({"broadcast": event["data"], "seq": event["seq"]}), flush=True)
                return


asyncio.run(main(*sys.argv[1:3]))
"""


@dataclass(frozen=True)
class FreshVenv:
    python: Path
    wheel: Path
    env: dict[str, str]  # no PYTHONPATH: only what the venv installed is importable


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    package = fresh_clone_copy("clients/python", tmp_path_factory.mktemp("clone"))
    home = tmp_path_factory.mktemp("venv")
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run([sys.executable, "-m", "venv", str(home)], home, timeout=120, env=env)
    python = home / "bin" / "python"
    run([str(python), "-m", "pip", "install", *PIP_QUIET, str(package)], home, timeout=180, env=env)
    wheels = home / "wheels"
    run([str(python), "-m", "pip", "wheel", *PIP_QUIET, "--no-deps", "-w", str(wheels), str(package)], home, env=env)
    (wheel,) = wheels.glob("*.whl")
    return FreshVenv(python, wheel, env)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalStack]:
    with running_local_stack() as stack:
        yield stack


@pytest.mark.e2e
def test_a_listener_installed_in_a_fresh_venv_receives_a_broadcast(
    venv: FreshVenv, local: LocalStack, tmp_path: Path
) -> None:
    assert local.urls is not None
    owner = local.mint("alice")
    session_id = create_session(local, owner)
    (tmp_path / "listener.py").write_text(LISTENER)
    command = [str(venv.python), "listener.py", local.urls.ws, session_id]
    first = listener_receives_a_broadcast(command, tmp_path, venv.env, local, session_id, owner)
    assert first["joined"] == "listener"
    # The venv's own copy, not the repository's (nor the shared .venv's editable install).
    assert Path(first["from"]).is_relative_to(venv.python.parent.parent), first["from"]


@pytest.mark.e2e
def test_the_wheel_carries_the_library_its_types_and_the_licence_only(venv: FreshVenv) -> None:
    with zipfile.ZipFile(venv.wheel) as wheel:
        names = set(wheel.namelist())
        (info,) = {name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info")}
        licence = wheel.read(f"{info}/licenses/LICENSE").decode()
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    library = {f"{LIBRARY}/{path.name}" for path in (PACKAGE / LIBRARY).iterdir() if path.suffix in (".py", ".typed")}
    assert f"{LIBRARY}/py.typed" in library
    assert {name for name in names if not name.startswith(info)} == library
    assert licence == (REPO / "LICENSE").read_text()
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Version"] == _ts_version()
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == (PACKAGE / "README.md").read_text().strip()


def test_the_package_licence_is_the_repositorys() -> None:
    """clients/python/LICENSE is a copy (a package names only files in its own directory): kept identical."""
    assert (PACKAGE / "LICENSE").read_text() == (REPO / "LICENSE").read_text()


def test_the_version_is_the_typescript_clients_and_the_changelog_describes_it() -> None:
    import live_sessions_client

    version = live_sessions_client.__version__
    assert version == _ts_version()
    headings = re.findall(r"^## (\S+)", (PACKAGE / "CHANGELOG.md").read_text(), re.M)
    assert headings and headings[0] == version


def _ts_version() -> str:
    version: str = json.loads((REPO / "clients" / "js" / "package.json").read_text())["version"]
    return version
