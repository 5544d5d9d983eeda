"""Whatever JSON (or text) a client sends, the answer is never a 5xx, and a refusal writes nothing."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
create_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "title": json_values,
            "sourceLanguage": st.sampled_from(["en", "pt-BR", "", "x" * 70]) | json_values,
            "maxListeners": st.integers(-10, 20_000) | json_values,
        },
    ),
)
raw_bodies = st.text(max_size=200) | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)


def check(answer) -> None:
    assert answer.status < 500, answer.raw_body
    if answer.status >= 400:
        assert answer.error["code"] and answer.error["requestId"]


@fixture_ok
@given(body=create_bodies)
def test_random_json_create_bodies_never_yield_a_5xx(api, body):
    before = len(api.http("GET", "/sessions", user="fuzz", query={"limit": "100"}).body["items"])
    answer = api.http("POST", "/sessions", user="fuzz", raw_body=json.dumps(body))
    check(answer)
    after = len(api.http("GET", "/sessions", user="fuzz", query={"limit": "100"}).body["items"])
    if answer.status == 201:
        assert answer.body["title"] == ((body or {}).get("title") or "")
        assert after == before + 1
    else:
        assert answer.status in (400, 422) and after == before


@fixture_ok
@given(raw=raw_bodies)
def test_random_text_bodies_never_yield_a_5xx(api, raw):
    check(api.http("POST", "/sessions", user="fuzz", raw_body=raw))


@fixture_ok
@given(
    body=json_values
    | st.fixed_dictionaries({}, optional={"status": json_values, "title": json_values, "muted": json_values})
)
def test_random_patch_and_message_bodies_never_yield_a_5xx(api, body):
    sid = api.create("fuzz")["sessionId"]
    check(api.http("PATCH", f"/sessions/{sid}", user="fuzz", raw_body=json.dumps(body)))
    check(api.http("POST", f"/sessions/{sid}/messages", user="fuzz", raw_body=json.dumps(body)))
