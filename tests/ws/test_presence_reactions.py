"""Presence and reactions through the real handlers (moto): members listed with their names and users, presence
data, notices to the speaker conflated to one a second with the last one exact, reactions added up exactly, the
budget dropping what exceeds it, and the speaker's kick and ban."""

from __future__ import annotations

import json

import pytest

from session_protocol import versions

from tests.support.throttles import throttled
from tests.support.ws_events import message_event

V = str(versions.PRESENCE)  # the protocol version that has the pushed presence frames


@pytest.fixture
def room(ws):
    """A session with its speaker connected on protocol version 3 (so it is sent presence frames)."""
    session = ws.create_session(owner="owner-1", max_listeners=200)
    speaker = ws.connect(session.sessionId, user="owner-1", v=V).connection_id
    return session.sessionId, speaker


@pytest.fixture
def held(ws):
    """Trailing notices wait for the test (`held.deliver_all()`), and the store's clock is the test's (`clock`)."""
    store = ws.runtime.store
    now = [store.clock()]
    store.clock = lambda: now[0]
    ws.runtime.notice_scheduler.immediate = False
    return ws.runtime.notice_scheduler, now


def _joined(ws, session_id: str, *, name: str | None = None, user: str | None = None) -> str:
    query = {"name": name} if name is not None else {}
    handshake = ws.connect(session_id, user=user, v=V, **query)
    assert handshake.status == 200, handshake.error
    assert ws.act(handshake.connection_id, "join")["type"] == "joined"
    return handshake.connection_id


def test_named_and_signed_in_members_are_listed_with_the_count(ws, room):
    session_id, speaker = room
    ann = _joined(ws, session_id, name="Ann")
    bob = _joined(ws, session_id, user="bob")
    answer = ws.act(speaker, "presence")
    members = {m["connectionId"]: m for m in answer["members"]}
    assert answer["count"] == 3 and answer["nextCursor"] is None
    assert members[ann]["name"] == "Ann" and "userId" not in members[ann]
    assert members[bob]["userId"] == "bob" and members[bob]["role"] == "listener"
    assert members[speaker]["role"] == "speaker"
    page = ws.act(speaker, "presence", limit=2)
    rest = ws.act(speaker, "presence", limit=2, cursor=page["nextCursor"])
    assert {m["connectionId"] for m in page["members"] + rest["members"]} == {ann, bob, speaker}


def test_a_name_in_join_and_presence_data_are_shown(ws, room):
    session_id, speaker = room
    listener = ws.connect(session_id, v=V).connection_id
    ws.act(listener, "join", name="Zoë 🎧")
    assert ws.act(listener, "setPresence", data={"hand": True})["member"]["data"] == {"hand": True}
    (member,) = [m for m in ws.act(speaker, "presence")["members"] if m["connectionId"] == listener]
    assert (member["name"], member["data"]) == ("Zoë 🎧", {"hand": True})


def test_listeners_may_list_only_when_the_session_makes_presence_public(ws, handlers, room):
    session_id, _ = room
    listener = _joined(ws, session_id)
    refused = ws.act(listener, "presence")
    assert (refused["type"], refused["code"]) == ("error", "FORBIDDEN")
    token = handlers.issuer.mint("owner-1")
    patched = handlers.http("PATCH", f"/sessions/{session_id}", token=token, body={"presence": "public"})
    assert patched.status == 200 and patched.body["presence"] == "public", patched.raw_body
    assert ws.act(listener, "presence")["count"] == 2


@pytest.mark.parametrize(
    ("action", "fields", "field"),
    [
        ("join", {"name": "x" * 65}, "name"),
        ("join", {"name": "bell\x07"}, "name"),
        ("join", {"name": "   "}, "name"),
        ("setPresence", {"data": {"blob": "x" * 1100}}, "data"),
        ("react", {"reaction": "NOT A REACTION"}, "reaction"),
        ("react", {"reaction": "a" * 33}, "reaction"),
    ],
)
def test_bad_presence_input_is_a_validation_error_naming_the_field(ws, room, action, fields, field):
    session_id, _ = room
    listener = _joined(ws, session_id)
    refused = ws.act(listener, action, **fields)
    assert (refused["code"], refused["field"]) == ("VALIDATION_ERROR", field), refused


def test_non_json_presence_data_names_the_field(ws, room):
    session_id, _ = room
    listener = _joined(ws, session_id)
    refused = ws.send(listener, '{"action": "setPresence", "data": NaN}')
    assert (refused["code"], refused["field"]) == ("VALIDATION_ERROR", "data")


def test_a_bad_name_on_the_connect_url_is_refused_naming_it(ws, room):
    session_id, _ = room
    refused = ws.connect(session_id, name="tab\there")
    assert (refused.status, refused.code, refused.error["field"]) == (400, "VALIDATION_ERROR", "name")


def test_set_presence_and_a_leave_reach_the_speaker(ws, room):
    session_id, speaker = room
    listener = _joined(ws, session_id, name="Ann")
    ws.act(listener, "setPresence", data={"muted": True})
    ws.disconnect(listener)
    notices = ws.received(speaker, "presenceChanged")
    updated = [m for notice in notices for m in notice.get("updated", [])]
    assert {"connectionId": listener, "data": {"muted": True}}.items() <= updated[-1].items()
    assert notices[-1]["left"] == [listener] and notices[-1]["count"] == 1


def test_with_presence_public_listeners_are_told_who_joined_and_left(ws, handlers, room):
    session_id, speaker = room
    token = handlers.issuer.mint("owner-1")
    patched = handlers.http("PATCH", f"/sessions/{session_id}", token=token, body={"presence": "public"})
    assert patched.status == 200, patched.raw_body
    first = _joined(ws, session_id, name="Ann")
    old_client = ws.connected(session_id)  # no `v`: its protocol has no presenceChanged
    ws.disconnect(old_client)
    second = _joined(ws, session_id, name="Bob")
    told = ws.received(first, "presenceChanged")
    assert second in {m["connectionId"] for notice in told for m in notice.get("joined", [])}
    assert old_client in {c for notice in told for c in notice.get("left", [])}
    assert told[-1]["count"] == 3 and ws.received(speaker, "presenceChanged")[-1] == told[-1]
    assert ws.received(second, "presenceChanged")[-1]["count"] == 3
    assert ws.received(old_client, "presenceChanged") == []


def test_an_older_speaker_client_gets_no_presence_frames_but_its_listener_count(ws):
    session = ws.create_session(owner="owner-1")
    speaker = ws.connected(session.sessionId, user="owner-1")  # no `v`: protocol version 1
    ws.act(ws.connected(session.sessionId), "join")
    assert ws.received(speaker, "presenceChanged") == []
    assert ws.received(speaker, "listenerCount")[-1]["listenerCount"] == 1


def test_joins_in_one_second_are_one_notice_and_the_trailing_one_is_exact(ws, room, held):
    queue, now = held
    session_id, speaker = room
    listeners = [_joined(ws, session_id, name=f"L{k}") for k in range(12)]
    assert len(ws.received(speaker, "presenceChanged")) == 1  # the first join's, at once
    assert len(ws.received(speaker, "listenerCount")) == 1
    assert len(queue.scheduled) == 1  # one trailing notice for the other eleven, however many changes
    ((notice, delay),) = queue.scheduled
    assert delay == 1
    now[0] = notice.due
    queue.deliver_all()
    first, last = ws.received(speaker, "presenceChanged")
    told = {m["connectionId"] for m in first["joined"] + last["joined"]}
    assert told == set(listeners) and last["count"] == 13
    assert ws.received(speaker, "listenerCount")[-1]["listenerCount"] == 12
    assert queue.deliver_all() == 0  # nothing left pending: nothing more is sent


def test_past_the_members_maximum_a_notice_carries_the_counts_only(ws, room, monkeypatch):
    session_id, speaker = room
    settings = ws.runtime.settings.model_copy(update={"presence_members_max": 2})
    monkeypatch.setattr(ws.runtime, "settings", settings)
    for _ in range(3):
        _joined(ws, session_id)
    last = ws.received(speaker, "presenceChanged")[-1]
    assert "joined" not in last and last["count"] == 4


def test_reactions_add_up_exactly_and_arrive_at_most_once_a_second(ws, room, held):
    queue, now = held
    session_id, speaker = room
    listeners = [_joined(ws, session_id) for _ in range(20)]
    for _ in range(5):
        for k, listener in enumerate(listeners):
            ws.websocket(message_event(listener, {"action": "react", "reaction": "👏" if k % 2 else "+1"}))
    assert len(ws.received(speaker, "reactions")) == 1
    now[0] += 1000
    queue.deliver_all()
    sent = ws.received(speaker, "reactions")
    assert len(sent) == 2
    total: dict[str, int] = {}
    for notice in sent:
        for reaction, count in notice["counts"].items():
            total[reaction] = total.get(reaction, 0) + count
    assert total == {"👏": 50, "+1": 50}


def test_a_reaction_is_answered_only_when_it_carries_an_id(ws, room):
    session_id, _ = room
    listener = _joined(ws, session_id)
    silent = ws.websocket(message_event(listener, {"action": "react", "reaction": "🎉"}))
    assert "body" not in silent
    assert ws.act(listener, "react", reaction="🎉", id="r1") == {"type": "reacted", "id": "r1", "reaction": "🎉"}


def test_reactions_past_the_budget_are_dropped_not_answered_nor_counted(ws, room, held, monkeypatch, counted):
    from session_runtime.budget import ActionBudget, Limits

    queue, now = held
    session_id, speaker = room
    listener = _joined(ws, session_id)
    monkeypatch.setattr(ws.runtime, "action_budget", ActionBudget(Limits(3, 0.001, 10, 1), clock=lambda: 0.0))
    answers = [ws.websocket(message_event(listener, {"action": "react", "reaction": "🔥"})) for _ in range(10)]
    assert all("body" not in answer for answer in answers)  # no error storm
    now[0] += 1000
    queue.deliver_all()
    assert sum(n["counts"].get("🔥", 0) for n in ws.received(speaker, "reactions")) == 3
    assert counted.count("ReactionsDropped") == 7  # what the budget dropped is counted for the operator


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The names of the metrics the handlers add, in order."""
    from session_runtime.observability import metrics

    names: list[str] = []
    monkeypatch.setattr(metrics, "add_metric", lambda name, **_: names.append(name))
    return names


def test_a_reaction_dynamodb_throttles_is_dropped_and_counted_never_an_error_storm(ws, room, throttle, counted):
    session_id, speaker = room
    listener = _joined(ws, session_id)
    throttle("update_item", times=2)  # the slot's partition past its write rate
    silent = ws.websocket(message_event(listener, {"action": "react", "reaction": "👏"}))
    assert "body" not in silent
    refused = ws.act(listener, "react", reaction="👏", id="r1")  # asked for an answer: told to retry
    assert (refused["type"], refused["code"], refused["id"]) == ("error", "RATE_LIMITED", "r1")
    assert counted.count("ReactionsDropped") == 2
    assert ws.act(listener, "react", reaction="👏", id="r2")["type"] == "reacted"
    assert [n["counts"] for n in ws.received(speaker, "reactions")] == [{"👏": 1}]  # the dropped ones never counted


def test_a_reaction_counted_before_its_claim_throttled_is_sent_with_the_next_notice(
    ws, room, held, monkeypatch, counted
):
    queue, now = held
    session_id, speaker = room
    listener = _joined(ws, session_id)
    ws.act(listener, "react", reaction="🎉", id="first")  # the slot's first notice, sent at once
    client = ws.runtime.store.client
    update_item = client.update_item

    def marks_throttled(**request):
        if "ConditionExpression" in request:  # the trailing mark (and any claim): recording is an unconditional ADD
            raise throttled("UpdateItem")
        return update_item(**request)

    monkeypatch.setattr(client, "update_item", marks_throttled)
    assert "body" not in ws.websocket(message_event(listener, {"action": "react", "reaction": "🎉"}))
    assert "ReactionsDropped" not in counted and queue.scheduled == []
    monkeypatch.setattr(client, "update_item", update_item)
    now[0] += 1000
    ws.act(listener, "react", reaction="🎉", id="third")
    assert [n["counts"] for n in ws.received(speaker, "reactions")] == [{"🎉": 1}, {"🎉": 2}]


def test_a_reaction_past_the_budget_with_an_id_is_answered_rate_limited(ws, room, monkeypatch, counted):
    from session_runtime.budget import ActionBudget, Limits

    session_id, _ = room
    listener = _joined(ws, session_id)
    monkeypatch.setattr(ws.runtime, "action_budget", ActionBudget(Limits(1, 0.001, 10, 1), clock=lambda: 0.0))
    assert ws.act(listener, "react", reaction="🔥", id="a")["type"] == "reacted"
    refused = ws.act(listener, "react", reaction="🔥", id="b")
    assert (refused["code"], refused["id"]) == ("RATE_LIMITED", "b") and refused["retryAfterMs"] > 0
    assert counted.count("ReactionsDropped") == 1


def test_the_speaker_kicks_and_bans_a_listener(ws, room):
    session_id, speaker = room
    kept = _joined(ws, session_id, user="carol")
    pest = _joined(ws, session_id, user="mallory", name="Mal")
    answer = ws.act(speaker, "kick", connectionId=pest, ban=True)
    assert (answer["type"], answer["connectionId"], answer["banned"]) == ("kicked", pest, True)
    assert ws.received(pest, "kicked")[-1]["banned"] is True
    assert pest in ws.management.closed
    assert ws.runtime.store.get_connection(pest) is None
    assert ws.session(session_id).listenerCount == 1
    assert ws.received(speaker, "presenceChanged")[-1]["left"] == [pest]
    assert ws.connect(session_id, user="mallory").code == "FORBIDDEN"
    assert ws.connect(session_id, name="Mal").code == "FORBIDDEN"
    assert ws.connect(session_id, user="someone", name="Mallory").status == 200
    assert ws.runtime.store.get_connection(kept) is not None


def test_a_ban_removes_every_connection_of_the_user_and_of_the_name_at_once(ws, room):
    session_id, speaker = room
    kept = _joined(ws, session_id, user="carol")
    pest = _joined(ws, session_id, user="mallory", name="Mal")
    other_tab = _joined(ws, session_id, user="mallory")
    namesake = _joined(ws, session_id, name="Mal")
    answer = ws.act(speaker, "kick", connectionId=pest, ban=True)
    assert (answer["connectionId"], answer["banned"]) == (pest, True)
    for removed in (pest, other_tab, namesake):
        assert ws.received(removed, "kicked")[-1] == {
            "type": "kicked", "sessionId": session_id, "connectionId": removed, "banned": True
        }
        assert removed in ws.management.closed and ws.runtime.store.get_connection(removed) is None
    assert ws.session(session_id).listenerCount == 1
    assert ws.received(speaker, "listenerCount")[-1]["listenerCount"] == 1
    members = ws.act(speaker, "presence")
    assert members["count"] == 2 and {m["connectionId"] for m in members["members"]} == {speaker, kept}


def test_a_banned_name_given_in_join_is_refused_and_the_connection_kept_as_it_was(ws, room):
    session_id, speaker = room
    ws.act(speaker, "kick", connectionId=_joined(ws, session_id, name="Mal"), ban=True)
    sneaky = ws.connect(session_id, v=V).connection_id  # no name on the connect URL: nothing to check there
    refused = ws.act(sneaky, "join", name="Mal")
    assert (refused["type"], refused["code"], refused["field"]) == ("error", "FORBIDDEN", "name")
    (member,) = [m for m in ws.act(speaker, "presence")["members"] if m["connectionId"] == sneaky]
    assert "name" not in member
    assert ws.act(sneaky, "join", name="Malcolm")["type"] == "joined"  # another name is no one's ban


def test_a_kick_without_ban_lets_the_listener_back_and_listeners_cannot_kick(ws, room):
    session_id, speaker = room
    first = _joined(ws, session_id, user="dave")
    other = _joined(ws, session_id)
    refused = ws.act(other, "kick", connectionId=first)
    assert refused["code"] == "FORBIDDEN"
    assert ws.act(speaker, "kick", connectionId=first)["banned"] is False
    assert ws.connect(session_id, user="dave").status == 200
    bad = ws.act(speaker, "kick", connectionId=speaker)
    assert (bad["code"], bad["field"]) == ("VALIDATION_ERROR", "connectionId")


def test_a_trailing_notice_arrives_through_the_notice_queue_event(ws, room, held):
    """What the notice queue delivers (an SQS event) reaches the fan-out worker, which sends what pends."""
    queue, now = held
    session_id, speaker = room
    _joined(ws, session_id)
    _joined(ws, session_id)
    ((notice, _),) = queue.scheduled
    now[0] = notice.due
    event = {"Records": [{"eventSource": "aws:sqs", "body": notice.model_dump_json()}]}
    assert ws.fanout_worker(event) == {"notices": 1}
    assert ws.received(speaker, "presenceChanged")[-1]["count"] == 3
    assert json.loads(notice.model_dump_json())["sessionId"] == session_id


def test_the_settings_are_taken_by_create_and_checked(ws, handlers):
    created = handlers.http("POST", "/sessions", user="owner-2", body={"presence": "public", "reactions": "public"})
    assert (created.status, created.body["presence"], created.body["reactions"]) == (201, "public", "public")
    bad = handlers.http("POST", "/sessions", user="owner-2", body={"reactions": "everyone"})
    assert (bad.status, bad.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert "reactions" in bad.body["error"]["message"]
    session_id = created.body["sessionId"]
    ws.connect(session_id, user="owner-2", v=V)
    listener = _joined(ws, session_id)
    other = _joined(ws, session_id)
    ws.act(listener, "react", reaction="🎉", id="r")
    assert ws.received(other, "reactions")[-1]["counts"] == {"🎉": 1}  # public: every connection hears them
