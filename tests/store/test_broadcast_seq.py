"""The session's stream seq: every change that is told (broadcast, status, muted, message) claims it in its own
write; a refused broadcast, or a change to what already is, uses up none."""

from __future__ import annotations

import pytest

from session_schema.errors import SessionEnded, SessionMuted, SessionNotFound, SessionPaused
from session_schema.status import SessionStatus


def test_live_only_claims_numbers_only_while_active_and_unmuted(store):
    session, _ = store.create_session(owner_id="user-a", title="T", source_language="en", max_listeners=5)
    sid = session.sessionId
    assert session.seq == 0
    assert store.next_broadcast_seq(sid, live_only=True).seq == 1

    assert store.change_status(sid, SessionStatus.PAUSED)[1].seq == 2  # its sessionUpdated
    with pytest.raises(SessionPaused) as paused:
        store.next_broadcast_seq(sid, live_only=True)
    assert (paused.value.code, paused.value.status) == ("SESSION_PAUSED", 409)
    assert store.next_broadcast_seq(sid).seq == 3  # without live_only a paused session still counts

    store.change_status(sid, SessionStatus.ACTIVE)  # 4
    assert store.update_session(sid, muted=True)[1].seq == 5
    before, after = store.update_session(sid, muted=True)  # already muted: no change, no seq
    assert before == after and after.seq == 5 and after.muted
    with pytest.raises(SessionMuted) as muted:
        store.next_broadcast_seq(sid, live_only=True)
    assert muted.value.code == "SESSION_MUTED"
    assert store.get_session(sid, consistent=True).seq == 5

    store.update_session(sid, muted=False)  # 6
    assert store.next_broadcast_seq(sid, live_only=True).seq == 7
    assert store.append_message(sid, "user-a", "hi")[0].seq == 8

    _, ended = store.change_status(sid, SessionStatus.ENDED)
    assert ended.seq == 10  # sessionUpdated and sessionEnded
    with pytest.raises(SessionEnded):
        store.next_broadcast_seq(sid, live_only=True)
    with pytest.raises(SessionNotFound):
        store.next_broadcast_seq("quiet-river-000", live_only=True)
    assert store.get_session(sid, consistent=True).seq == 10


def test_a_change_status_after_is_what_the_table_holds(store):
    session, _ = store.create_session(owner_id="user-a", title="T", source_language="en", max_listeners=5)
    for target in (SessionStatus.PAUSED, SessionStatus.ACTIVE, SessionStatus.ENDED):
        before, after = store.change_status(session.sessionId, target, title=f"to {target.value}")
        assert after == store.get_session(session.sessionId, consistent=True)
        assert after.seq > before.seq
