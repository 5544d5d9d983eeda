"""A connection whose posts keep being refused 429 (API Gateway's answer for a client that does not read:
its buffer is full) is closed and unregistered after FANOUT_STRIKES_TO_CLOSE refusals in a row, and told
as a leave; failures with a success in between, failures that say nothing about the client (5xx), and an
account-wide throttle (most posts of the fan-out refused) leave it registered."""

from __future__ import annotations

from session_schema.settings import SETTINGS_BY_ENV

STRIKES = int(SETTINGS_BY_ENV["FANOUT_STRIKES_TO_CLOSE"].default or 0)


def _listeners(ws, session_id: str) -> list[str]:
    return [c.connectionId for c in ws.runtime.store.iter_connections(session_id) if c.role == "listener"]


def test_a_listener_failing_every_post_is_closed_and_unregistered_after_its_strikes(ws, live):
    reading, stuck = ws.connected(live.session_id), ws.connected(live.session_id)
    ws.management.failing[stuck] = 429
    for n in range(1, STRIKES):
        answer = ws.act(live.speaker, "broadcast", data={"n": n})
        assert answer["delivered"] == 1
        assert stuck in _listeners(ws, live.session_id) and stuck not in ws.management.closed
    ws.act(live.speaker, "broadcast", data={"n": STRIKES})
    assert stuck in ws.management.closed  # asked to close ...
    assert _listeners(ws, live.session_id) == [reading]  # ... and unregistered now, not at its $disconnect
    assert ws.session(live.session_id).listenerCount == 1
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1  # told as a leave
    ws.act(live.speaker, "broadcast", data={"n": "after"})
    assert [m["data"]["n"] for m in ws.received(reading, "broadcast")] == [*range(1, STRIKES + 1), "after"]
    assert ("post", stuck) not in ws.management.calls[-3:]  # later fan-outs no longer try it
    ws.disconnect(stuck)  # API Gateway's late $disconnect changes nothing
    assert ws.session(live.session_id).listenerCount == 1


def test_a_success_in_between_clears_the_strikes(ws, live):
    flaky, _reading = ws.connected(live.session_id), ws.connected(live.session_id)
    for _ in range(3):
        for _ in range(STRIKES - 1):
            ws.management.failing[flaky] = 429
            ws.act(live.speaker, "broadcast", data={})
        del ws.management.failing[flaky]
        assert ws.act(live.speaker, "broadcast", data={})["delivered"] == 2
    assert flaky in _listeners(ws, live.session_id) and flaky not in ws.management.closed


def test_server_errors_and_an_account_wide_throttle_close_no_one(ws, live):
    broken, reading = ws.connected(live.session_id), ws.connected(live.session_id)
    ws.management.failing[broken] = 503  # the management API's trouble, not the client's
    for _ in range(STRIKES + 1):
        assert ws.act(live.speaker, "broadcast", data={})["delivered"] == 1
    ws.management.failing.update({broken: 429, reading: 429})  # everyone throttled: not slow clients
    for _ in range(STRIKES + 1):
        assert ws.act(live.speaker, "broadcast", data={})["delivered"] == 0
    assert sorted(_listeners(ws, live.session_id)) == sorted([broken, reading]) and ws.management.closed == []


def test_a_speaker_failing_its_count_updates_is_closed_too_and_the_listeners_told(ws, live):
    listener = ws.connected(live.session_id)
    ws.management.failing[live.speaker] = 429
    for _ in range(STRIKES):
        ws.act(ws.connected(live.session_id), "join")  # each join posts the new count to the speaker
    assert live.speaker in ws.management.closed
    assert ws.session(live.session_id).speakerConnectionId is None
    assert len(ws.received(listener, "speakerDisconnected")) == 1
