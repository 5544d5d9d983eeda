"""Joins and leaves: `listenerCount` to the speaker, `speakerDisconnected`, gone connections, and the
invariant that `listenerCount` always equals the registered listener connections."""

from __future__ import annotations

import random

from session_schema.status import SessionStatus


def _count(ws, session_id: str) -> tuple[int, int]:
    return ws.session(session_id).listenerCount, ws.runtime.store.count_listeners(session_id)


def test_a_listener_leaving_sends_the_new_count_to_the_speaker(ws, live):
    first, second = ws.connected(live.session_id), ws.connected(live.session_id)
    ws.disconnect(first)
    assert ws.runtime.store.get_connection(first) is None
    assert _count(ws, live.session_id) == (1, 1)
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1
    ws.disconnect(first)  # API Gateway may deliver $disconnect twice: the count moves once
    assert _count(ws, live.session_id) == (1, 1)
    ws.disconnect(second)
    assert _count(ws, live.session_id) == (0, 0)
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 0


def test_the_speaker_leaving_tells_listeners_and_does_not_end_the_session(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(2)]
    ws.disconnect(live.speaker)
    for listener in listeners:
        assert ws.received(listener, "speakerDisconnected") == [
            {"type": "speakerDisconnected", "sessionId": live.session_id}
        ]
    stored = ws.session(live.session_id)
    assert stored.status is SessionStatus.ACTIVE and stored.speakerConnectionId is None
    assert stored.speakerlessSince is not None and stored.listenerCount == 2
    back = ws.connected(live.session_id, user=live.owner)
    assert ws.session(live.session_id).speakerConnectionId == back
    assert ws.act(back, "broadcast", data="again")["delivered"] == 2


def test_a_speaker_found_gone_by_a_send_is_a_leave_the_listeners_hear_of(ws, live):
    """The speaker's network died: no $disconnect. The next send to it (410) is its leave."""
    listener = ws.connected(live.session_id)
    ws.management.gone.add(live.speaker)
    late = ws.connected(live.session_id)
    assert ws.act(late, "join")["type"] == "joined"  # which sends listenerCount to the speaker: 410, unregistered
    told = {"type": "speakerDisconnected", "sessionId": live.session_id}
    for connection in (listener, late):
        assert ws.received(connection, "speakerDisconnected") == [told], connection
    stored = ws.session(live.session_id)
    assert stored.speakerConnectionId is None and stored.speakerlessSince is not None  # the sweep's clock runs
    assert stored.status is SessionStatus.ACTIVE and stored.listenerCount == 2


def test_a_speaker_found_gone_by_an_http_change_is_told_too(ws, live, handlers):
    listener = ws.connected(live.session_id)
    ws.management.gone.add(live.speaker)
    token = handlers.issuer.mint(live.owner)
    patched = handlers.http("PATCH", f"/sessions/{live.session_id}", token=token, body={"title": "Renamed"})
    assert patched.status == 200, patched.raw_body
    told = {"type": "speakerDisconnected", "sessionId": live.session_id}
    assert ws.received(listener, "speakerDisconnected") == [told]
    assert ws.session(live.session_id).speakerConnectionId is None


def test_a_replaced_speaker_leaving_tells_nobody(ws, live):
    listener = ws.connected(live.session_id)
    second_tab = ws.connected(live.session_id, user=live.owner)
    ws.disconnect(live.speaker)  # the first tab: no longer the session's speaker
    assert ws.received(listener, "speakerDisconnected") == []
    assert ws.session(live.session_id).speakerConnectionId == second_tab


def test_only_the_current_speaker_connection_may_act_as_the_speaker(ws, live, subtests):
    """The owner's new connection takes over; the old tab is not the speaker any more, for every speaker action."""
    from session_protocol.frames import ACTIONS

    listener = ws.connected(live.session_id)
    second_tab = ws.connected(live.session_id, user=live.owner)
    fields = {"broadcast": {"data": 1}, "sendMessage": {"text": "hi"}, "kick": {"connectionId": listener}}
    for action in sorted(ACTIONS.speaker_only):
        with subtests.test(action=action):
            refused = ws.act(live.speaker, action, **fields.get(action, {}))
            assert refused["type"] == "error" and refused["code"] == "FORBIDDEN", refused
            assert "took over" in refused["message"]
    stored = ws.session(live.session_id)
    assert (stored.status, stored.muted, stored.seq) == (SessionStatus.ACTIVE, False, 0)
    assert ws.runtime.store.list_messages(live.session_id, limit=10, cursor=None).items == []
    assert ws.received(listener) == []
    # the new tab is the speaker; the old one still sees what everyone sees, and may read the history
    assert ws.act(second_tab, "broadcast", data="slide")["delivered"] == 1
    assert ws.act(second_tab, "pause")["session"]["status"] == "paused"
    assert [m["session"]["status"] for m in ws.received(live.speaker, "sessionUpdated")] == ["paused"]
    assert ws.act(live.speaker, "history")["type"] == "history"
    # the current speaker leaves: the listeners are told, and the old tab does not silently take over
    ws.disconnect(second_tab)
    assert len(ws.received(listener, "speakerDisconnected")) == 1
    assert ws.act(live.speaker, "resume")["code"] == "FORBIDDEN"
    back = ws.connected(live.session_id, user=live.owner)  # connecting again is how the owner takes over
    assert ws.act(back, "resume")["session"]["status"] == "active"


def test_a_gone_connection_is_removed_the_others_still_get_the_message_and_the_count_drops(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(3)]
    gone = listeners[1]
    ws.management.gone.add(gone)
    answer = ws.act(live.speaker, "broadcast", data={"slide": 2})
    assert answer["delivered"] == 2
    for listener in (listeners[0], listeners[2]):
        assert [m["data"] for m in ws.received(listener, "broadcast")] == [{"slide": 2}]
    assert ws.runtime.store.get_connection(gone) is None
    assert _count(ws, live.session_id) == (2, 2)
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 2
    ws.disconnect(gone)  # API Gateway's late $disconnect for it changes nothing
    assert _count(ws, live.session_id) == (2, 2)


def test_gone_connections_found_by_a_message_or_state_change_are_removed_too(ws, live):
    listeners = [ws.connected(live.session_id) for _ in range(3)]
    ws.management.gone.add(listeners[0])
    ws.act(live.speaker, "sendMessage", text="hello")
    ws.management.gone.add(listeners[1])
    ws.act(live.speaker, "pause")
    assert _count(ws, live.session_id) == (1, 1)
    assert [m["type"] for m in ws.received(listeners[2])] == ["message", "sessionUpdated"]
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1


def test_listener_count_equals_registered_listeners_under_random_joins_leaves_and_gones(ws):
    """Random sequences of connect / join / disconnect / duplicate disconnect / gone / speaker churn."""
    for seed in range(4):
        rng = random.Random(seed)
        owner = f"owner-{seed}"
        session_id = ws.create_session(owner=owner, max_listeners=6).sessionId
        speaker = ws.connected(session_id, user=owner)
        registered: set[str] = set()
        left: list[str] = []
        for _ in range(30):
            op = rng.choice(["connect", "connect", "signed", "join", "leave", "leave_again", "gone", "speaker"])
            if op in ("connect", "signed"):
                handshake = ws.connect(session_id, user="guest" if op == "signed" else None)
                assert handshake.status == (200 if len(registered) < 6 else 429)
                if handshake.status == 200:
                    registered.add(handshake.connection_id)
            elif op == "join" and registered:
                joined = ws.act(rng.choice(sorted(registered)), "join")
                assert joined["session"]["listenerCount"] == len(registered)
            elif op == "leave" and registered:
                leaving = rng.choice(sorted(registered))
                ws.disconnect(leaving)
                registered.discard(leaving)
                left.append(leaving)
            elif op == "leave_again" and left:
                ws.disconnect(rng.choice(left))
            elif op == "gone" and registered:
                gone = rng.choice(sorted(registered))
                ws.management.gone.add(gone)
                answer = ws.act(speaker, "broadcast", data=rng.random())
                registered.discard(gone)
                assert answer["delivered"] == len(registered)
            elif op == "speaker":
                ws.disconnect(speaker)
                speaker = ws.connected(session_id, user=owner)
            assert _count(ws, session_id) == (len(registered), len(registered)), (seed, op)
            counts = ws.received(speaker, "listenerCount")
            if op in ("leave", "gone") and counts:
                assert counts[-1]["listenerCount"] == len(registered), (seed, op)
