"""`make help` lists every target a developer can type: each .PHONY target, from the `## ` comment on its line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _phony_targets() -> set[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    declared = re.findall(r"^\.PHONY:(.*)$", text, re.M)
    return {name for line in declared for name in line.split()}


def _defined_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", (REPO / "Makefile").read_text(), re.M))


def test_every_phony_target_is_defined_and_listed_by_make_help() -> None:
    shown = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    listed = set(re.findall(r"^make (\S+) ", shown.stdout, re.M))
    phony = _phony_targets()
    assert phony - _defined_targets() == set(), "declared .PHONY but never defined"
    assert phony - listed == set(), "a target without a `## ` comment on its line is missing from `make help`"
    assert listed - phony == set(), "listed by `make help` but not .PHONY"
