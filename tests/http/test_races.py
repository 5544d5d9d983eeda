"""Races on the HTTP handler: concurrent PATCHes, and PATCHes racing a WebSocket pause or end, through the real
handlers (real API Gateway events) against moto made atomic per request (local/dynamodb/atomic_moto.py, applied in
tests/conftest.py), as DynamoDB is. The WebSocket handler's races are in tests/ws/test_races.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.concurrency import together
from tests.support.handlers import Handlers

OWNER = "owner-1"
ROUNDS = 3


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_concurrent_http_pauses_one_wins_one_conflicts(handlers: Handlers, round_: int) -> None:
    session_id = handlers.create(OWNER)["sessionId"]

    def pause() -> Any:
        return handlers.http("PATCH", f"/sessions/{session_id}", user=OWNER, body={"status": "paused"})

    answers = together(pause, pause)
    assert sorted(a.status for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status == 409).error
    assert (loser["code"], loser["from"], loser["to"]) == ("INVALID_TRANSITION", "paused", "paused")
    assert handlers.store.get_session(session_id, consistent=True).status.value == "paused"


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_http_resume_racing_ws_end_gives_a_legal_final_state(handlers: Handlers, round_: int) -> None:
    session_id = handlers.create(OWNER)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    assert handlers.act(speaker, "pause")["type"] == "sessionUpdated"

    resumed, ended = together(
        lambda: handlers.http("PATCH", f"/sessions/{session_id}", user=OWNER, body={"status": "active"}),
        lambda: handlers.act(speaker, "end"),
    )
    assert ended["type"] == "sessionEnded"  # paused -> ended and active -> ended are both legal
    final = handlers.store.get_session(session_id, consistent=True).status.value
    assert final == "ended"
    # The resume either happened first (200) or found the session ended (409 ended -> active).
    if resumed.status != 200:
        assert resumed.status == 409 and (resumed.error["from"], resumed.error["to"]) == ("ended", "active")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_patch_of_status_and_title_that_loses_a_race_changes_nothing(handlers: Handlers, round_: int) -> None:
    session_id = handlers.create(OWNER, title="Before")["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)

    patched, paused = together(
        lambda: handlers.http(
            "PATCH", f"/sessions/{session_id}", user=OWNER, body={"status": "paused", "title": "After"}
        ),
        lambda: handlers.act(speaker, "pause"),
    )
    session = handlers.session(session_id)
    assert session.status.value == "paused"
    if patched.status == 200:  # the PATCH won: both of its changes, and the WebSocket pause lost
        assert paused["code"] == "INVALID_TRANSITION" and session.title == "After"
    else:  # the pause won: the PATCH is refused whole, its title never written
        assert patched.status == 409 and paused["type"] == "sessionUpdated"
        assert session.title == "Before"
