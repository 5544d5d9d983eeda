"""The scheduled sweep ends sessions left without a speaker for too long, and nothing else."""

from __future__ import annotations

from session_schema.status import SessionStatus

from tests.support.stream_writes import change_status

HOUR_MS = 3_600_000


def _an_hour_ago(ws):
    """Run what follows (creates, connects, disconnects) with the store's clock an hour back."""
    store = ws.runtime.store
    real = store.clock

    class Back:
        def __enter__(self):
            store.clock = lambda: real() - HOUR_MS

        def __exit__(self, *exc):
            store.clock = real

    return Back()


def test_sweep_ends_speakerless_sessions_past_the_timeout_and_leaves_the_rest(ws):
    assert ws.runtime.settings.speakerless_timeout_seconds * 1000 < HOUR_MS
    with _an_hour_ago(ws):
        never_spoken = ws.create_session(owner="a").sessionId
        speaker_left_long_ago = ws.create_session(owner="b").sessionId
        gone_speaker = ws.connected(speaker_left_long_ago, user="b")
        ws.disconnect(gone_speaker)
        still_speaking = ws.create_session(owner="c").sessionId
        speaker = ws.connected(still_speaking, user="c")
        just_left = ws.create_session(owner="d").sessionId
        paused_long_ago = ws.create_session(owner="e").sessionId
        change_status(ws.runtime.store, paused_long_ago, SessionStatus.PAUSED)
    recent_speaker = ws.connected(just_left, user="d")
    ws.disconnect(recent_speaker)  # speakerless since now: within the timeout
    fresh = ws.create_session(owner="f").sessionId
    listeners = {sid: ws.connected(sid) for sid in (never_spoken, speaker_left_long_ago, still_speaking)}

    summary = ws.sweep()

    ended = {never_spoken, speaker_left_long_ago, paused_long_ago}
    assert set(summary["ended"]) == ended and summary["failed"] == 0
    for session_id in ended:
        assert ws.session(session_id).status is SessionStatus.ENDED
    for session_id in (still_speaking, just_left, fresh):
        assert ws.session(session_id).status is SessionStatus.ACTIVE
    for session_id in (never_spoken, speaker_left_long_ago):
        assert ws.received(listeners[session_id], "sessionEnded")
        assert listeners[session_id] in ws.management.closed
    assert ws.received(listeners[still_speaking], "sessionEnded") == []
    assert speaker not in ws.management.closed
    assert ws.connect(never_spoken).status == 410
    assert ws.sweep()["ended"] == []  # nothing left to sweep; ended sessions left the index


def test_a_speaker_who_came_back_after_the_index_was_read_is_not_swept(ws, monkeypatch):
    with _an_hour_ago(ws):
        session = ws.create_session(owner="a")
    stale = list(ws.runtime.store.iter_speakerless(ws.runtime.store.clock()))
    assert [s.sessionId for s in stale] == [session.sessionId]
    ws.connected(session.sessionId, user="a")  # the speaker reconnects between the Query and the write
    monkeypatch.setattr(ws.runtime.store, "iter_speakerless", lambda cutoff: iter(stale))
    summary = ws.sweep()
    assert summary["ended"] == [] and summary["skipped"] == 1
    assert ws.session(session.sessionId).status is SessionStatus.ACTIVE


def test_a_session_ended_meanwhile_is_skipped(ws, monkeypatch):
    with _an_hour_ago(ws):
        session = ws.create_session(owner="a")
    stale = list(ws.runtime.store.iter_speakerless(ws.runtime.store.clock()))
    change_status(ws.runtime.store, session.sessionId, SessionStatus.ENDED)
    monkeypatch.setattr(ws.runtime.store, "iter_speakerless", lambda cutoff: iter(stale))
    summary = ws.sweep()
    ended_part = {k: summary[k] for k in ("checked", "ended", "skipped", "failed")}
    assert ended_part == {"checked": 1, "ended": [], "skipped": 1, "failed": 0}
