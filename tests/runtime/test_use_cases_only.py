"""HTTP routes, WebSocket actions and the sweep change sessions only through session_runtime/use_cases.py (store +
notify, TTLs bound there), so a PATCH and a `pause`, a DELETE, an `end` and a sweep cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
HANDLERS = ("http_session_handler", "connection_handler")
CALLERS = sorted(p for folder in HANDLERS for p in (LAMBDAS / folder).glob("*.py"))


@pytest.mark.parametrize(
    "pattern",
    [
        r"store\.change_status\(",
        r"store\.update_session\(",
        r"store\.append_message\(",
        r"ended_session_ttl_days",
        r"message_ttl_days",
        r"notify\.session_changed\(",
        r"notify\.message_stored\(",
    ],
)
def test_no_handler_runs_a_session_change_itself(pattern: str) -> None:
    found = [f"{p.parent.name}/{p.name}" for p in CALLERS if re.search(pattern, p.read_text(encoding="utf-8"))]
    assert found == [], f"{pattern} in {found}: call session_runtime.use_cases instead"
