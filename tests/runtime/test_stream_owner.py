"""One owner for the session stream: only session_runtime/stream.py keeps stream events, moves the stream's head
or a connection's live mark, and posts stream events (its fan-out, a caller's own copy, a replay); handler modules
reach the stream only through the use cases and `stream` itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
OWNER = LAMBDAS / "session_runtime" / "stream.py"
FANOUT = LAMBDAS / "session_runtime" / "fanout.py"  # the mechanism the owner posts through
# What keeps events or moves the head or a live mark (session_store/stream_log.py), and what posts stream events.
STREAM_WRITES = (
    r"\.append\(\s*head",
    r"\bread_head\(",
    r"\bhold_connection\(",
    r"\brelease_connection(_now)?\(",
    r"\bsend_(raw|all_to)\(",
)
# The store's judgments of a change at the head: only a use case (or the stream) drafts with them.
CHANGE_DRAFTS = (
    r"\bstatus_change\(",
    r"\bsession_update\(",
    r"\bbroadcast_change\(",
    r"\bmessage_change\(",
    r"\bartifact_change\(",
)
HANDLERS = ("connection_handler", "http_session_handler")
STREAM_EVENTS = (
    "broadcast",
    "message",
    "session_updated",
    "session_ended",
    "session_change",
    "artifact_updated",
    "artifact_updated_for_speaker",
)


def _modules() -> list[Path]:
    return sorted(p for p in LAMBDAS.rglob("*.py") if "session_store" not in p.parts)


@pytest.mark.parametrize("pattern", STREAM_WRITES)
def test_only_the_stream_module_keeps_events_moves_the_head_or_posts_kept_events(pattern: str) -> None:
    found = [
        str(p.relative_to(LAMBDAS))
        for p in _modules()
        if p not in (OWNER, FANOUT) and re.search(pattern, p.read_text())
    ]
    assert found == [], f"{pattern} in {found}: publish or resume through session_runtime/stream.py"


@pytest.mark.parametrize("pattern", CHANGE_DRAFTS)
def test_no_handler_drafts_a_stream_change_itself(pattern: str) -> None:
    found = [
        str(p.relative_to(LAMBDAS))
        for folder in HANDLERS
        for p in (LAMBDAS / folder).glob("*.py")
        if re.search(pattern, p.read_text())
    ]
    assert found == [], f"{pattern} in {found}: call session_runtime.use_cases instead"


def test_no_module_but_the_stream_hands_a_stream_event_to_a_fan_out() -> None:
    """A stream event built anywhere but in a use case's draft or the stream, then sent, would skip its keep."""
    built = re.compile(r"events\.(" + "|".join(STREAM_EVENTS) + r")\(")
    sent = re.compile(r"\.send(_to|_many)?\(")
    found = [
        str(p.relative_to(LAMBDAS))
        for p in _modules()
        if p != OWNER and built.search(p.read_text()) and sent.search(p.read_text())
    ]
    assert found == [], f"{found} build stream events and post them: publish through session_runtime/stream.py"


def test_the_checks_find_what_they_look_for() -> None:
    """The owner itself matches, so a pattern that drifted from the code's spelling fails here, not silently."""
    text = OWNER.read_text()
    for pattern in STREAM_WRITES:
        assert re.search(pattern, text), pattern
