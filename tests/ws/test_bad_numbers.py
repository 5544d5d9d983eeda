"""Non-finite numbers are not JSON: anywhere in a frame they are a VALIDATION_ERROR naming the field."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"action":"broadcast","data":1e400}', "data"),
        ('{"action":"broadcast","data":-1e400}', "data"),
        ('{"action":"broadcast","data":NaN}', "data"),
        ('{"action":"broadcast","data":{"a":[1,2,Infinity]}}', "data.a.2"),
        ('{"action":"broadcast","data":[{"x":-Infinity}]}', "data.0.x"),
        ('{"action":"history","since":1e400}', "since"),
    ],
)
def test_a_non_finite_number_is_refused_naming_its_field_and_nothing_is_sent(ws, live, body, field):
    listener = ws.connected(live.session_id)
    answer = ws.send(live.speaker, body, route_key=body.split('"action":"')[1].split('"')[0])
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", field)
    assert ws.received(listener, "broadcast") == []
    assert ws.session(live.session_id).seq == 0


def test_the_largest_allowed_since_returns_nothing_not_everything(ws, live):
    ws.act(live.speaker, "sendMessage", text="old")
    listener = ws.connected(live.session_id)
    assert ws.act(listener, "history", since=9_999_999_999_999)["items"] == []
    assert [m["text"] for m in ws.act(listener, "history", since=0)["items"]] == ["old"]
