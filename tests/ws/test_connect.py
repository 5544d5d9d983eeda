"""`$connect`: who becomes speaker or listener, and every refusal with its status and code."""

from __future__ import annotations

import json

import pytest

from session_schema.status import SessionStatus

from tests.support.http_events import AUDIENCE
from tests.support.stream_writes import change_status
from tests.support.ws_events import connect_event, new_connection_id


def _role(ws, connection_id: str) -> str | None:
    connection = ws.runtime.store.get_connection(connection_id)
    return connection.role if connection else None


def test_anonymous_listener_is_registered_and_counted(ws):
    session = ws.create_session()
    handshake = ws.connect(session.sessionId)
    assert handshake.status == 200 and handshake.error is None
    connection = ws.runtime.store.get_connection(handshake.connection_id)
    assert connection.role == "listener" and connection.userId is None
    assert connection.expiresAt >= ws.runtime.store.clock() // 1000 + ws.runtime.settings.connection_ttl_seconds - 5
    assert ws.session(session.sessionId).listenerCount == 1


def test_a_typed_id_is_normalized(ws):
    session = ws.create_session()
    spoken = session.sessionId.replace("-", " ").upper()
    handshake = ws.connect(f"  {spoken} ")
    assert handshake.status == 200
    assert ws.runtime.store.get_connection(handshake.connection_id).sessionId == session.sessionId


def test_owner_token_makes_the_speaker_and_others_are_listeners(ws):
    session = ws.create_session(owner="owner-1")
    speaker = ws.connect(session.sessionId, user="owner-1")
    other_user = ws.connect(session.sessionId, user="someone-else")
    anonymous = ws.connect(session.sessionId)
    assert [h.status for h in (speaker, other_user, anonymous)] == [200] * 3
    assert _role(ws, speaker.connection_id) == "speaker"
    assert _role(ws, other_user.connection_id) == "listener"
    assert ws.runtime.store.get_connection(other_user.connection_id).userId == "someone-else"
    assert _role(ws, anonymous.connection_id) == "listener"
    assert ws.runtime.store.get_connection(anonymous.connection_id).userId is None
    stored = ws.session(session.sessionId)
    assert stored.speakerConnectionId == speaker.connection_id and stored.listenerCount == 2


def test_a_token_that_fails_verification_is_refused_401_not_demoted_to_a_listener(ws):
    """The owner's expired token (a talk longer than the token's hour) and a forged one: 401 UNAUTHORIZED, with
    the reason; neither takes a seat."""
    session = ws.create_session(owner="owner-1")
    expired = ws.connect(session.sessionId, token=ws.issuer.mint("owner-1", ttl_seconds=-3600))
    forged = ws.connect(session.sessionId, token=ws.issuer.mint("owner-1", aud="another-client"))
    garbage = ws.connect(session.sessionId, token="not.a.jwt")
    assert [(h.status, h.code) for h in (expired, forged, garbage)] == [(401, "UNAUTHORIZED")] * 3
    assert expired.error is not None and expired.error["message"] == "token expired"
    assert ws.session(session.sessionId).listenerCount == 0
    assert AUDIENCE  # the forged token differs from a valid one only by its audience


MALFORMED_IDS = ["", "quiet-river", "quiet-river-48", "DROP TABLE", "a" * 300, "quiet#river-482", "quiet-river-482-1"]


def test_malformed_session_id_is_refused_400(ws, subtests):
    for raw in MALFORMED_IDS:
        with subtests.test(raw=raw[:20]):
            handshake = ws.connect(raw)
            assert handshake.status == 400 and handshake.error["code"] == "INVALID_SESSION_ID"
            assert handshake.error["requestId"] and handshake.error["field"] == "sessionId"


def test_missing_query_string_is_refused_400(ws):
    result = ws.websocket(connect_event(new_connection_id(), None))
    assert result["statusCode"] == 400 and json.loads(result["body"])["error"]["code"] == "INVALID_SESSION_ID"


def test_unknown_session_is_refused_404(ws):
    handshake = ws.connect("quiet-river-000")
    assert (handshake.status, handshake.error["code"]) == (404, "SESSION_NOT_FOUND")
    handshake = ws.connect("quiet-river-000", user="owner-1")
    assert (handshake.status, handshake.error["code"]) == (404, "SESSION_NOT_FOUND")


def test_ended_session_is_refused_410_and_the_log_line_carries_the_actual_status(ws, logs):
    session = ws.create_session(owner="owner-1")
    change_status(ws.runtime.store, session.sessionId, SessionStatus.ENDED)
    for user in (None, "owner-1", "someone-else"):
        handshake = ws.connect(session.sessionId, user=user)
        assert (handshake.status, handshake.error["code"]) == (410, "SESSION_ENDED")
    refused = [line for line in logs.lines if line.get("message") == "connect refused"]
    assert len(refused) == 3
    assert refused and all(line["actualStatus"] == "ended" for line in refused)
    assert all(line["sessionId"] == session.sessionId and line["routeKey"] == "$connect" for line in refused)
    assert all(line["connectionId"] for line in refused)
    assert ws.session(session.sessionId).listenerCount == 0


def test_a_full_session_refuses_listeners_429_but_not_its_speaker(ws):
    session = ws.create_session(owner="owner-1", max_listeners=2)
    assert [ws.connect(session.sessionId).status for _ in range(2)] == [200, 200]
    third = ws.connect(session.sessionId)
    assert (third.status, third.error["code"]) == (429, "SESSION_FULL")
    signed_in = ws.connect(session.sessionId, user="someone-else")
    assert signed_in.status == 429
    assert ws.connect(session.sessionId, user="owner-1").status == 200
    assert ws.session(session.sessionId).listenerCount == 2
    assert ws.runtime.store.count_listeners(session.sessionId) == 2


def test_a_paused_session_is_joinable(ws):
    session = ws.create_session()
    change_status(ws.runtime.store, session.sessionId, SessionStatus.PAUSED)
    assert ws.connect(session.sessionId).status == 200


def test_an_unexpected_failure_refuses_500_without_internals(ws, monkeypatch):
    session = ws.create_session()

    def broken(*args, **kwargs):
        raise RuntimeError("secret table internals")

    monkeypatch.setattr(ws.runtime.store, "register_connection", broken)
    handshake = ws.connect(session.sessionId)
    assert handshake.status == 500 and handshake.error["code"] == "INTERNAL_ERROR"
    assert "secret" not in json.dumps(handshake.error)


# ---------------------------------------------------------------- the field bug, end to end


def _http_create(ws, owner: str) -> str:
    """Create a session through the HTTP handler with a real HTTP API (payload 2.0) event."""
    return ws.create(owner, title="Field bug", maxListeners=3)["sessionId"]  # asserts the 201


@pytest.mark.parametrize("created_by", ["store", "http"])
def test_field_bug_regression_a_created_session_is_joinable_by_a_listener(ws, created_by):
    """The old bug: create wrote one field (`isActive`), connect checked another (`status`), so no one could join."""
    session_id = _http_create(ws, "owner-1") if created_by == "http" else ws.create_session("owner-1").sessionId
    listener = ws.connect(session_id)
    assert listener.status == 200, listener.error
    assert ws.act(listener.connection_id, "join")["session"]["status"] == "active"
    speaker = ws.connect(session_id, user="owner-1")
    assert _role(ws, speaker.connection_id) == "speaker"
    assert ws.session(session_id).listenerCount == 1


def test_logging_keys_do_not_leak_between_invocations(ws, logs):
    session = ws.create_session()
    ws.connect(session.sessionId)
    assert any(line.get("sessionId") == session.sessionId for line in logs.lines)
    seen = len(logs.lines)
    ws.websocket(connect_event(new_connection_id(), {"sessionId": "bad"}))
    lines = logs.lines[seen:]
    assert lines and all("sessionId" not in line for line in lines), lines
