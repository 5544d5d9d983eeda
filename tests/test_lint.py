"""ruff over the whole repository, with pyproject.toml's rules: a lint finding fails `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    # --no-cache: a test run writes nothing into the checkout (ruff takes well under a second without one).
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"ruff check found problems (`ruff check --fix .` fixes the safe ones):\n{output}"
