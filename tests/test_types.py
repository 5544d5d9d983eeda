"""mypy over the Lambda packages, with pyproject.toml's [tool.mypy]: a type error fails `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mypy_finds_nothing() -> None:
    # The packages, strictness and plugins come from pyproject.toml. mypy keeps its incremental cache in
    # .mypy_cache/ (ignored by git): a few seconds cold, well under one warm.
    result = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mypy found problems (run `python -m mypy` from the repository root):\n{output}"
