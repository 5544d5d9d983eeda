"""clients/python/README.md's snippet runs as pasted against the local stack: read from the README itself, run
as a file by the venv's Python with TOKEN set as the README says; only the stack's free ports replace
3000/3001. It prints the broadcast's seq, then what the listener got."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.local_stack import running_local_stack

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"


def test_the_readme_snippet_runs_as_pasted(tmp_path: Path) -> None:
    (snippet,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    with running_local_stack() as local:
        assert local.urls is not None
        script = snippet.replace("http://127.0.0.1:3000", local.urls.http).replace("ws://127.0.0.1:3001", local.urls.ws)
        assert script != snippet, "the snippet names the local stack's default URLs"
        (tmp_path / "try_it.py").write_text(script)
        env = {**os.environ, "TOKEN": local.mint("alice")}
        ran = subprocess.run(
            [sys.executable, "try_it.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "broadcast as seq 1 to 1 listener(s)", ran.stdout
    assert lines[1:] == ["broadcast 1", "sessionUpdated 2", "sessionEnded 3"], ran.stdout  # `end`: status, then the end
