"""Every action and its answer, who may do it, what the other connections get, and bad frames."""

from __future__ import annotations

import json

import pytest

from session_schema.routes import WS_ACTIONS
from session_schema.status import SessionStatus


def test_join_answers_role_public_view_and_connection_id_and_is_idempotent(ws, live):
    listener = ws.connected(live.session_id)
    first = ws.act(listener, "join")
    again = ws.act(listener, "join")
    assert first == again
    assert first["type"] == "joined" and first["role"] == "listener" and first["connectionId"] == listener
    stored = ws.session(live.session_id)
    assert first["session"] == {
        "sessionId": live.session_id,
        "title": "Talk",
        "status": "active",
        "listenerCount": 1,
        "muted": False,
        "createdAt": stored.createdAt,
        "maxListeners": stored.maxListeners,
        "seq": 0,
        "epoch": stored.epoch,
        "channels": [],
    }
    assert ws.act(live.speaker, "join")["role"] == "speaker"
    counts = ws.received(live.speaker, "listenerCount")
    assert counts and counts[-1] == {"type": "listenerCount", "sessionId": live.session_id, "listenerCount": 1}


def test_ping_answers_pong_with_a_millisecond_timestamp(ws, live):
    listener = ws.connected(live.session_id)
    pong = ws.act(listener, "ping")
    assert pong["type"] == "pong" and abs(pong["ts"] - ws.runtime.store.clock()) < 60_000


def test_broadcast_reaches_every_listener_with_increasing_seq(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(3)]
    signed_in = ws.connected(live.session_id, user="someone-else")
    answers = [ws.act(live.speaker, "broadcast", data={"n": n, "text": "héllo"}) for n in range(2)]
    assert [a["type"] for a in answers] == ["broadcastSent"] * 2
    assert [a["seq"] for a in answers] == [1, 2] and all(a["delivered"] == 4 for a in answers)
    for listener in [*listeners, signed_in]:
        got = ws.received(listener, "broadcast")
        assert [(m["data"], m["seq"]) for m in got] == [({"n": 0, "text": "héllo"}, 1), ({"n": 1, "text": "héllo"}, 2)]
        assert got[0]["ts"] == answers[0]["ts"]
    assert ws.received(live.speaker, "broadcast") == []


def test_broadcast_carries_any_json(ws, live, subtests):
    listener = ws.connected(live.session_id)
    for data in [None, 0, 1.5, "text", [1, [2, {"x": None}]], {"deep": {"er": True}}, "ünïcødé ✓"]:
        with subtests.test(data=data):
            assert ws.act(live.speaker, "broadcast", data=data)["type"] == "broadcastSent"
            assert ws.received(listener, "broadcast")[-1]["data"] == data


def test_broadcast_is_refused_while_paused_or_muted_without_using_a_seq(ws, live):
    listener = ws.connected(live.session_id)
    ws.act(live.speaker, "pause")
    assert ws.act(live.speaker, "broadcast", data=1)["code"] == "SESSION_PAUSED"
    ws.act(live.speaker, "resume")
    ws.act(live.speaker, "mute")
    assert ws.act(live.speaker, "broadcast", data=1)["code"] == "SESSION_MUTED"
    ws.act(live.speaker, "unmute")
    assert ws.act(live.speaker, "broadcast", data=1)["seq"] == 5  # pause, resume, mute, unmute took 1-4
    seen = [m["seq"] for m in ws.received(listener) if "seq" in m]
    assert seen == [1, 2, 3, 4, 5]  # one stream: the refusals left no gap


def test_send_message_is_stored_then_sent_to_every_connection(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(2)]
    answer = ws.act(live.speaker, "sendMessage", text="Welcome!")
    assert answer["type"] == "message" and answer["text"] == "Welcome!" and answer["sessionId"] == live.session_id
    for listener in listeners:
        assert ws.received(listener, "message") == [answer]
    assert ws.received(live.speaker, "message") == []  # the speaker has it as its answer, not twice
    stored = ws.runtime.store.list_messages(live.session_id, limit=10, cursor=None).items
    assert [m.messageId for m in stored] == [answer["messageId"]] and stored[0].senderId == live.owner


def test_messages_are_allowed_while_paused_or_muted(ws, live):
    ws.act(live.speaker, "pause")
    ws.act(live.speaker, "mute")
    assert ws.act(live.speaker, "sendMessage", text="back soon")["type"] == "message"


def test_history_pages_oldest_first_with_since_and_cursor(ws, live):
    clock = iter(range(1_700_000_000_000, 1_700_000_100_000, 1_000))
    ws.runtime.store.clock = lambda: next(clock)
    sent = [ws.act(live.speaker, "sendMessage", text=f"m{n}") for n in range(5)]
    listener = ws.connected(live.session_id)
    everything = ws.act(listener, "history")
    assert everything["type"] == "history" and [m["text"] for m in everything["items"]] == [f"m{n}" for n in range(5)]
    assert everything["nextCursor"] is None
    since = ws.act(listener, "history", since=sent[2]["createdAt"])
    assert [m["text"] for m in since["items"]] == ["m3", "m4"]
    first = ws.act(listener, "history", limit=2)
    second = ws.act(listener, "history", limit=2, cursor=first["nextCursor"])
    assert [m["text"] for m in first["items"] + second["items"]] == ["m0", "m1", "m2", "m3"]
    bad = ws.act(listener, "history", cursor="not-a-cursor")
    assert bad["code"] == "VALIDATION_ERROR" and bad["field"] == "cursor"


@pytest.mark.parametrize(
    ("action", "status", "muted"),
    [("pause", "paused", False), ("mute", "active", True)],
)
def test_state_changes_answer_the_speaker_and_tell_everyone_else(ws, live, action, status, muted):
    listeners = [ws.connected(live.session_id) for _ in range(2)]
    answer = ws.act(live.speaker, action)
    assert answer["type"] == "sessionUpdated"
    assert (answer["session"]["status"], answer["session"]["muted"]) == (status, muted)
    for listener in listeners:
        assert ws.received(listener, "sessionUpdated") == [answer]
    assert ws.received(live.speaker, "sessionUpdated") == []
    stored = ws.session(live.session_id)
    assert (stored.status.value, stored.muted) == (status, muted)


def test_resume_and_unmute_undo_pause_and_mute(ws, live):
    ws.act(live.speaker, "pause")
    ws.act(live.speaker, "mute")
    assert ws.act(live.speaker, "resume")["session"]["status"] == "active"
    assert ws.act(live.speaker, "unmute")["session"]["muted"] is False


def test_muting_a_muted_session_is_answered_but_not_announced_again(ws, live):
    listener = ws.connected(live.session_id)
    ws.act(live.speaker, "mute")
    assert ws.act(live.speaker, "mute")["session"]["muted"] is True
    assert len(ws.received(listener, "sessionUpdated")) == 1


def test_illegal_transitions_name_both_states(ws, live, subtests):
    for first, second, current, target in [
        (None, "resume", "active", "active"),
        ("pause", "pause", "paused", "paused"),
        ("end", "pause", "ended", "paused"),
        (None, "resume", "ended", "active"),
        (None, "end", "ended", "ended"),
    ]:
        with subtests.test(action=second, current=current):
            if first:
                ws.act(live.speaker, first)
            refused = ws.act(live.speaker, second)
            assert refused["type"] == "error" and refused["code"] == "INVALID_TRANSITION"
            assert (refused["from"], refused["to"]) == (current, target)
            assert f"'{current}'" in refused["message"] and f"'{target}'" in refused["message"]


def test_end_tells_everyone_closes_listeners_and_later_connects_are_refused_410(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(3)]
    answer = ws.act(live.speaker, "end")
    assert answer["type"] == "sessionEnded" and answer["session"]["status"] == "ended"
    assert answer["seq"] == answer["session"]["seq"] == 2  # the end's write claimed two: updated, then ended
    updated = {"type": "sessionUpdated", "session": {**answer["session"], "seq": 1}, "seq": 1}
    assert ws.received(live.speaker, "sessionUpdated") == [updated]  # posted before its answer, so in order
    for listener in listeners:
        assert [m for m in ws.received(listener) if m["type"].startswith("session")] == [updated, answer]
    assert sorted(ws.management.closed) == sorted(listeners)  # the speaker keeps its connection
    assert ws.session(live.session_id).status is SessionStatus.ENDED
    late = ws.connect(live.session_id)
    assert (late.status, late.error["code"]) == (410, "SESSION_ENDED")
    assert ws.act(live.speaker, "end")["code"] == "INVALID_TRANSITION"
    assert ws.act(live.speaker, "mute")["code"] == "SESSION_ENDED"
    assert ws.act(live.speaker, "broadcast", data=1)["code"] == "SESSION_ENDED"
    assert ws.act(live.speaker, "sendMessage", text="hi")["code"] == "SESSION_ENDED"
    for listener in listeners:  # API Gateway sends $disconnect for each closed connection
        ws.disconnect(listener)
    assert ws.session(live.session_id).listenerCount == 0


def test_history_after_the_end_is_the_owners_alone(ws, live):
    """As `GET /sessions/{id}/messages`: a listener whose connection outlived the end is told not found."""
    anonymous = ws.connected(live.session_id)
    signed_in = ws.connected(live.session_id, user="someone-else")
    secret = "the-private-words-of-the-owner"  # no ID or message can contain it by chance
    ws.act(live.speaker, "sendMessage", text=secret)
    assert [m["text"] for m in ws.act(anonymous, "history")["items"]] == [secret]
    ws.act(live.speaker, "end")  # the listeners are closed, but a close can fail or cross a frame
    for listener in (anonymous, signed_in):
        refused = ws.act(listener, "history")
        assert refused["type"] == "error" and refused["code"] == "SESSION_NOT_FOUND", refused
        assert secret not in json.dumps(refused)
    assert [m["text"] for m in ws.act(live.speaker, "history")["items"]] == [secret]  # the owner always


def test_actions_on_an_unregistered_connection_are_refused(ws, live):
    assert ws.act("unknownConn1w=", "join")["code"] == "CONNECTION_NOT_FOUND"
    assert ws.act("unknownConn1w=", "ping")["type"] == "pong"


# ---------------------------------------------------------------- bad frames


NO_ACTION_BODIES = [
    "not json", "", "[1, 2]", '"join"', "null", "{}", '{"action": 7}', '{"action": null}',
    '{"action": "dance"}', '{"action": "JOIN"}', '{"x": NaN}', "{" * 100_000,
]


def test_frames_that_name_no_action_answer_invalid_action_with_the_valid_ones(ws, live, subtests):
    for body in NO_ACTION_BODIES:
        with subtests.test(body=body[:20]):
            answer = ws.send(live.speaker, body, route_key="$default")
            assert answer["type"] == "error" and answer["code"] == "INVALID_ACTION"
            assert answer["validActions"] == list(WS_ACTIONS)
            assert all(action in answer["message"] for action in WS_ACTIONS)


def test_a_known_action_on_the_wrong_route_is_invalid(ws, live):
    assert ws.send(live.speaker, {"action": "join"}, route_key="$default")["code"] == "INVALID_ACTION"
    assert ws.send(live.speaker, {"action": "ping"}, route_key="join")["code"] == "INVALID_ACTION"


ILL_TYPED_FRAMES = [
    ({"action": "broadcast"}, "data"),
    ({"action": "sendMessage"}, "text"),
    ({"action": "sendMessage", "text": ""}, "text"),
    ({"action": "sendMessage", "text": 42}, "text"),
    ({"action": "sendMessage", "text": "x" * 4001}, "text"),
    ({"action": "sendMessage", "text": " \t "}, "text"),
    ({"action": "sendMessage", "text": "\u200b"}, "text"),  # invisible only
    ({"action": "sendMessage", "text": "hi\x00there"}, "text"),
    ({"action": "history", "since": "5"}, "since"),
    ({"action": "history", "since": True}, "since"),
    ({"action": "history", "since": -1}, "since"),
    ({"action": "history", "limit": 0}, "limit"),
    ({"action": "history", "limit": 1000}, "limit"),
    ({"action": "history", "cursor": 5}, "cursor"),
    ({"action": "pause", "now": True}, "now"),
    ({"action": "join", "sessionId": "x"}, "sessionId"),
    ({"action": "broadcast", "data": 1, "to": "everyone"}, "to"),
]


def test_ill_typed_frames_answer_validation_error_naming_the_field(ws, live, subtests):
    for frame, field in ILL_TYPED_FRAMES:
        with subtests.test(action=frame["action"], field=field):
            answer = ws.send(live.speaker, frame)
            assert answer["type"] == "error" and answer["code"] == "VALIDATION_ERROR" and answer["field"] == field
    assert ws.session(live.session_id).seq == 0


def test_a_base64_text_frame_is_read(ws, live):
    import base64

    from tests.support.ws_events import message_event

    event = message_event(live.speaker, {"action": "ping"})
    event |= {"body": base64.b64encode(event["body"].encode()).decode(), "isBase64Encoded": True}
    assert json.loads(ws.websocket(event)["body"])["type"] == "pong"


def test_an_unexpected_failure_answers_internal_error_without_internals(ws, live, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(ws.runtime.store, "list_messages", broken)
    answer = ws.act(live.speaker, "history")
    assert answer == {"type": "error", "code": "INTERNAL_ERROR", "message": answer["message"]}
    assert "secret" not in answer["message"]


def test_a_throttled_table_is_rate_limited_for_actions_and_handshakes_never_internal(
    ws, live, monkeypatch, invocations_lasting
):
    """DynamoDB throttling past botocore's retries (and a handshake's own, for as long as its invocation has time:
    none here): the client is told to retry later, on both paths."""
    from botocore.exceptions import ClientError

    invocations_lasting(0)

    def throttled(**kwargs):
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        raise ClientError({"Error": error}, "GetItem")

    listener = ws.connected(live.session_id)
    monkeypatch.setattr(ws.runtime.store.client, "get_item", throttled)
    answer = ws.act(listener, "join")
    assert (answer["type"], answer["code"]) == ("error", "RATE_LIMITED"), answer

    def throttled_transaction(**kwargs):
        error = {"Code": "ThrottlingException", "Message": "slow down"}
        raise ClientError({"Error": error}, "TransactWriteItems")

    monkeypatch.setattr(ws.runtime.store.client, "transact_write_items", throttled_transaction)
    handshake = ws.connect(live.session_id)
    assert (handshake.status, handshake.code) == (429, "RATE_LIMITED"), handshake
