"""The session's stream seq: every change that is told (broadcast, status, muted, message) claims it in its own
write; a refused broadcast, or a change to what already is, uses up none."""

from __future__ import annotations

import pytest

from session_schema.errors import SessionEnded, SessionMuted, SessionNotFound, SessionPaused
from session_schema.status import SessionStatus

from tests.support.stream_writes import append_message, broadcast, change_status, update_session


def test_a_broadcast_takes_a_seq_only_while_active_and_unmuted(store):
    session, _ = store.create_session(owner_id="user-a", title="T", source_language="en", max_listeners=5)
    sid = session.sessionId
    assert session.seq == 0
    assert broadcast(store, sid).seq == 1

    assert change_status(store, sid, SessionStatus.PAUSED)[1].seq == 2  # its sessionUpdated
    with pytest.raises(SessionPaused) as paused:
        broadcast(store, sid)
    assert (paused.value.code, paused.value.status) == ("SESSION_PAUSED", 409)

    change_status(store, sid, SessionStatus.ACTIVE)  # 3
    assert update_session(store, sid, muted=True)[1].seq == 4
    before, after = update_session(store, sid, muted=True)  # already muted: no change, no seq
    assert before == after and after.seq == 4 and after.muted
    with pytest.raises(SessionMuted) as muted:
        broadcast(store, sid)
    assert muted.value.code == "SESSION_MUTED"
    assert store.get_session(sid, consistent=True).seq == 4

    update_session(store, sid, muted=False)  # 5
    assert broadcast(store, sid).seq == 6
    assert append_message(store, sid, "user-a", "hi")[0].seq == 7

    _, ended = change_status(store, sid, SessionStatus.ENDED)
    assert ended.seq == 9  # sessionUpdated and sessionEnded
    with pytest.raises(SessionEnded):
        broadcast(store, sid)
    with pytest.raises(SessionNotFound):
        broadcast(store, "quiet-river-000")
    assert store.get_session(sid, consistent=True).seq == 9


def test_a_change_status_after_is_what_the_table_holds(store):
    session, _ = store.create_session(owner_id="user-a", title="T", source_language="en", max_listeners=5)
    for target in (SessionStatus.PAUSED, SessionStatus.ACTIVE, SessionStatus.ENDED):
        before, after = change_status(store, session.sessionId, target, title=f"to {target.value}")
        assert after == store.get_session(session.sessionId, consistent=True)
        assert after.seq > before.seq
