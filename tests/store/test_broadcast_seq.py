"""`next_broadcast_seq(live_only=True)`: a paused or muted session refuses without using up a number."""

from __future__ import annotations

import pytest

from session_schema.errors import SessionEnded, SessionNotFound
from session_schema.status import SessionStatus
from session_schema.store import SessionMuted, SessionPaused


def test_live_only_claims_numbers_only_while_active_and_unmuted(store):
    session, _ = store.create_session(owner_id="user-a", title="T", source_language="en", max_listeners=5)
    sid = session.sessionId
    assert store.next_broadcast_seq(sid, live_only=True).seq == 1

    store.change_status(sid, SessionStatus.PAUSED)
    with pytest.raises(SessionPaused) as paused:
        store.next_broadcast_seq(sid, live_only=True)
    assert (paused.value.code, paused.value.status) == ("SESSION_PAUSED", 409)
    assert store.next_broadcast_seq(sid).seq == 2  # without live_only a paused session still counts

    store.change_status(sid, SessionStatus.ACTIVE)
    store.update_session(sid, muted=True)
    with pytest.raises(SessionMuted) as muted:
        store.next_broadcast_seq(sid, live_only=True)
    assert muted.value.code == "SESSION_MUTED"
    assert store.get_session(sid, consistent=True).seq == 2

    store.update_session(sid, muted=False)
    assert store.next_broadcast_seq(sid, live_only=True).seq == 3

    store.change_status(sid, SessionStatus.ENDED)
    with pytest.raises(SessionEnded):
        store.next_broadcast_seq(sid, live_only=True)
    with pytest.raises(SessionNotFound):
        store.next_broadcast_seq("quiet-river-000", live_only=True)
    assert store.get_session(sid, consistent=True).seq == 3
