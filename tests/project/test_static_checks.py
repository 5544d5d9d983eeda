"""The static checks, with pyproject.toml's settings: a lint finding or a type error fails `make test`.

- ruff over the whole repository (`--no-cache`: a test run writes nothing into the checkout);
- mypy over the Lambda packages and the Python client ([tool.mypy]); it keeps its incremental cache in
  .mypy_cache/ (ignored by git): a few seconds cold, well under one warm.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CHECKS = {
    "ruff": (["ruff", "check", "--no-cache", "."], "`ruff check --fix .` fixes the safe ones"),
    "mypy": (["mypy"], "run `python -m mypy` from the repository root"),
}


@pytest.mark.parametrize("tool", sorted(CHECKS))
def test_finds_nothing(tool: str) -> None:
    argv, hint = CHECKS[tool]
    result = subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{tool} found problems ({hint}):\n{result.stdout}{result.stderr}"
