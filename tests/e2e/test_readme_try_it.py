"""README's "Try it" runs as pasted: its shell blocks, run by bash against a local stack, do what they say.

The blocks are read from README.md itself, so an edit that breaks them fails here. They run in a scratch
folder laid out like the repository root (`.venv`, `local`, `lambdas`, `aws_model` linked in), with the stack's state
in that folder's `.local-state`, so a developer's own `make dev` is never touched. Only what cannot run
unattended is changed: the stack's free ports replace 3000/3001 (and `--ws-url` is added), `listen` runs
in the background, and `speak` reads one line from its standard input instead of a keyboard.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import REPO, cli_env
from tests.support.local_stack import running_local_stack

pytestmark = pytest.mark.e2e


def _try_it_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Try it") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def _edit(line_from: str, line_to: str, block: str) -> str:
    assert line_from in block, f"README's Try it no longer has {line_from!r}: update this test with it"
    return block.replace(line_from, line_to)


def test_readme_try_it_runs_as_pasted(tmp_path: Path) -> None:
    for name in (".venv", "local", "lambdas", "aws_model"):
        (tmp_path / name).symlink_to(REPO / name)
    blocks = _try_it_blocks()
    assert len(blocks) == 4 and "make dev" in blocks[0], "terminal 1, 2, 3 and 3 again"
    listened = tmp_path / "listen.out"
    with running_local_stack(state_dir=tmp_path / ".local-state") as local:
        assert local.urls is not None
        http, ws = local.urls.http, local.urls.ws
        terminal_2 = _edit(
            '.venv/bin/python -m local listen "$SESSION"',
            f'(timeout 60 .venv/bin/python -m local listen "$SESSION" --ws-url {ws} > {listened} 2>&1 &)\n'
            f"for i in $(seq 100); do grep -q joined {listened} && break; sleep 0.1; done",
            blocks[1],
        )
        terminal_3 = _edit(
            '.venv/bin/python -m local speak "$SESSION" --token "$TOKEN"',
            f'echo "hello everyone" | .venv/bin/python -m local speak "$SESSION" --token "$TOKEN" --ws-url {ws}',
            blocks[2],
        )
        script = "\n".join([terminal_2, terminal_3, blocks[3]]).replace("http://127.0.0.1:3000", http)
        ran = subprocess.run(
            ["bash", "-u", "-c", script], cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=180
        )
        assert ran.returncode == 0, ran.stderr
        deadline = time.monotonic() + 20
        while "sessionEnded" not in listened.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    printed = ran.stdout.split()
    session_id = printed[0]
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{3}", session_id), ran.stdout  # `echo "$SESSION"`
    assert "204" in printed[-1], ran.stdout  # S3 took the upload: the last command before the DELETE printed it
    events = [json.loads(line) for line in listened.read_text().splitlines() if line.startswith("{")]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "joined" and events[0]["session"]["sessionId"] == session_id
    assert {"type": "broadcast", "data": {"text": "hello everyone"}}.items() <= next(
        e for e in events if e["type"] == "broadcast"
    ).items()
    assert any(e["type"] == "message" and e["text"] == "hello" for e in events)
    assert kinds[-1] == "sessionEnded", kinds
    assert json.loads((tmp_path / ".local-state" / "artifact.json").read_text())["upload"]["url"]
