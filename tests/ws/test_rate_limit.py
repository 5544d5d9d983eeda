"""The per-connection action budget through the real handler: a refused frame is RATE_LIMITED with a retry
hint and costs no DynamoDB request; reads are limited first; other connections are not touched."""

from __future__ import annotations

import pytest

from session_runtime.budget import ActionBudget


@pytest.fixture(autouse=True)
def frozen_budget(ws):
    """The deployed limits on a clock that stands still: what a burst faster than any refill sees."""
    budget = ws.runtime.action_budget
    ws.runtime.action_budget = ActionBudget(budget.limits, clock=lambda: 1000.0)
    return ws.runtime.action_budget


def test_a_listener_spamming_history_is_limited_and_each_refusal_costs_no_request(ws, live, dynamodb_requests):
    settings = ws.runtime.settings
    listener = ws.connected(live.session_id)
    answers = [ws.act(listener, "history", id=f"h{n}") for n in range(settings.read_burst + 5)]
    served = [a for a in answers if a["type"] == "history"]
    limited = [a for a in answers if a["type"] == "error"]
    assert len(served) == settings.read_burst and len(limited) == 5
    for answer in limited:
        assert answer["code"] == "RATE_LIMITED" and 1 <= answer["retryAfterMs"] <= 1000 / settings.read_rate_per_second
    assert [a["id"] for a in answers] == [f"h{n}" for n in range(len(answers))]  # each answer echoes its frame
    dynamodb_requests.clear()
    assert ws.act(listener, "history")["code"] == "RATE_LIMITED"
    assert sum(dynamodb_requests.values()) == 0
    # Another connection, and this one's frames that read nothing, are not limited.
    assert ws.act(ws.connected(live.session_id), "history")["type"] == "history"
    assert ws.act(listener, "ping")["type"] == "pong"


def test_a_listener_spamming_speaker_actions_is_charged_the_read_each_refusal_cost(ws, live):
    listener = ws.connected(live.session_id)
    codes = [ws.act(listener, "broadcast", data=n)["code"] for n in range(ws.runtime.settings.read_burst + 3)]
    assert codes[: ws.runtime.settings.read_burst] == ["FORBIDDEN"] * ws.runtime.settings.read_burst
    assert ws.act(listener, "history")["code"] == "RATE_LIMITED"  # its reads are spent


def test_every_frame_counts_even_one_that_does_not_parse(ws, live):
    listener = ws.connected(live.session_id)
    for _ in range(ws.runtime.settings.action_burst):
        ws.send(listener, "not json")
    refused = ws.send(listener, {"action": "ping", "id": "p"})
    assert (refused["code"], refused["id"]) == ("RATE_LIMITED", "p")
    assert ws.send(listener, "still not json")["code"] == "RATE_LIMITED"


def test_a_speaker_streaming_broadcasts_stays_within_its_budget(ws, live):
    listener = ws.connected(live.session_id)
    for n in range(ws.runtime.settings.action_burst):
        assert ws.act(live.speaker, "broadcast", data=n)["type"] == "broadcastSent"
    assert [m["data"] for m in ws.received(listener, "broadcast")] == list(range(ws.runtime.settings.action_burst))


def test_a_disconnect_forgets_the_connection_budget(ws, live):
    listener = ws.connected(live.session_id)
    for _ in range(ws.runtime.settings.read_burst):
        ws.act(listener, "history")
    ws.disconnect(listener)
    assert listener not in ws.runtime.action_budget._buckets
