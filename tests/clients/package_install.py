"""What the tests that install a client as an app share (tests/clients/test_js_package.py,
test_python_package.py): a copy of a client's directory as a fresh clone has it, a command that must succeed,
and the installed app's listener receiving one broadcast from the local stack."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.support.local_stack import next_of_type, open_ws, ws_url

REPO = Path(__file__).resolve().parents[2]


def run(command: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    """Runs `command`; its stdout, or the test fails with both outputs' tails."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    if result.returncode != 0:
        output = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}) in {cwd}:\n{output}")
    return result.stdout


def fresh_clone_copy(package: str, into: Path) -> Path:
    """`package`'s files (a path under the repository) as git has them: tracked, plus new files not ignored.
    No build output, no caches: what a fresh clone holds. Returns the copy's directory."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", package], REPO)
    for name in listed.splitlines():
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into / package


def listener_receives_a_broadcast(
    command: list[str], cwd: Path, env: dict[str, str], local: LocalStack, session_id: str, owner_token: str
) -> dict[str, Any]:
    """Runs the app's listener (`command`), which prints one JSON line once joined and one with the first
    broadcast (`{"broadcast": data, "seq"}`) before it exits; the owner broadcasts once between the two.
    Returns the first line, for the caller's checks of the join."""
    listener = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None
        line = listener.stdout.readline()
        if not line:
            pytest.fail(f"the listener printed nothing: {listener.stderr.read() if listener.stderr else ''}")
        first: dict[str, Any] = json.loads(line)
        _broadcast_once(local, session_id, owner_token, {"hello": "from the speaker"})
        out, err = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
    assert listener.returncode == 0, err
    assert json.loads(out.splitlines()[0]) == {"broadcast": {"hello": "from the speaker"}, "seq": 1}
    return first


def _broadcast_once(local: LocalStack, session_id: str, owner_token: str, data: Any) -> None:
    """The session's owner joins over a raw socket and broadcasts `data` once (answered: it was sent)."""

    async def speak() -> None:
        speaker = await open_ws(ws_url(local, session_id, owner_token))
        try:
            await speaker.send(json.dumps({"action": "join"}))
            await next_of_type(speaker, "joined")
            await speaker.send(json.dumps({"action": "broadcast", "data": data}))
            await next_of_type(speaker, "broadcastSent")
        finally:
            await speaker.close()

    asyncio.run(speak())
