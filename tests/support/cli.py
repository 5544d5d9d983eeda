"""Running `python -m local ...` as a user does, from a shell: a subprocess whose output is read back from
files (never a pipe that could fill up), with a deadline on every wait."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env() -> dict[str, str]:
    """This environment without what pytest or an in-process local stack put in it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "PYTEST"))}
    env.pop("PYTHONPATH", None)  # as from a shell: `python -m local` must find everything by itself
    return env


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process from /proc (Linux), or None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else (fields[0], int(fields[1]))


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (the local stack's worker processes and their templates)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if _stat(pid) is not None}


class Cli:
    """`python -m local <args>` in the repository root; stdout and stderr go to files in `directory`."""

    def __init__(self, directory: Path, name: str, *args: str, stdin: bool = False, **popen: Any) -> None:
        self.out_path = directory / f"{name}.out"
        self.err_path = directory / f"{name}.err"
        self._out = self.out_path.open("w")
        self._err = self.err_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local", *args],
            cwd=REPO, env=cli_env(), text=True,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=self._out, stderr=self._err,
            **popen,
        )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def json_lines(self) -> list[dict[str, Any]]:
        """stdout, one JSON document per line (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def wait_until(self, check: Callable[[Cli], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check(self):
            assert self.process.poll() is None or check(self), f"exited {self.process.returncode} before {what}: {self}"
            assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s: {self}"
            time.sleep(0.05)

    def write(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()

    def wait(self, timeout: float = 20.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout:.0f} s: {self}") from None

    def stop(self) -> None:
        """Kill it if it still runs (the test failed) and close the files."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.close_stdin()
        self._out.close()
        self._err.close()

    def __repr__(self) -> str:
        command = " ".join(self.process.args[2:])
        return f"{command}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
