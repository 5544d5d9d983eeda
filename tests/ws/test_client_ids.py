"""A client `id` on any action is echoed in that action's direct answer, an error included."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("action", ["join", "ping", "history"])
def test_an_answer_echoes_the_frames_id(ws, live, action):
    listener = ws.connected(live.session_id)
    answer = ws.act(listener, action, id="req-1.a:b_c")
    assert answer["id"] == "req-1.a:b_c" and answer["type"] != "error"


def test_a_speaker_answer_and_a_refusal_echo_the_id(ws, live):
    listener = ws.connected(live.session_id)
    sent = ws.act(live.speaker, "broadcast", data={"x": 1}, id="b1")
    assert sent["type"] == "broadcastSent" and sent["id"] == "b1"
    refused = ws.act(listener, "pause", id="p1")
    assert (refused["type"], refused["code"], refused["id"]) == ("error", "FORBIDDEN", "p1")
    # the listener's copy of the broadcast is not an answer: it carries no one's id
    assert "id" not in ws.received(listener, "broadcast")[-1]


def test_a_frame_that_fails_validation_still_echoes_a_valid_id(ws, live):
    answer = ws.act(live.speaker, "broadcast", id="v1")  # `data` missing
    assert (answer["code"], answer["field"], answer["id"]) == ("VALIDATION_ERROR", "data", "v1")


@pytest.mark.parametrize("bad", ["", "x" * 65, "has space", 7, "a#b", ["x"]])
def test_an_ill_formed_id_is_a_validation_error_naming_it_and_is_not_echoed(ws, live, bad):
    answer = ws.act(live.speaker, "ping", id=bad)
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", "id")
    assert "id" not in answer


def test_no_id_no_echo(ws, live):
    assert "id" not in ws.act(live.speaker, "ping")
