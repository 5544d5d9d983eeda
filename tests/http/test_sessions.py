"""Session routes through the handler: create, list, read, change, end; ownership and fan-out."""

from __future__ import annotations

import base64
import json

from session_schema.cursor import CursorSeal, listing_of
from session_schema.ids import is_session_id
from session_schema.keys import user_sessions_partition
from session_store.dynamo import USER_SESSIONS

from tests.support.aws import fixed_cursor_seal
from tests.support.contract import OWNER_FIELDS, PUBLIC_FIELDS

# ------------------------------------------------------------------ create


def test_create_returns_201_with_the_owner_view_and_defaults(api, capsys, logs):
    answer = api.http("POST", "/sessions", user="alice", body={"title": "Keynote"})
    assert answer.status == 201
    session = answer.body
    assert set(session) == OWNER_FIELDS
    assert is_session_id(session["sessionId"])
    assert session | {} == session and session["title"] == "Keynote"
    assert (session["ownerId"], session["status"], session["sourceLanguage"]) == ("alice", "active", "en")
    assert session["maxListeners"] == api.runtime.settings.default_max_listeners
    assert api.session(session["sessionId"]).ownerId == "alice"
    assert '"SessionCreated":[1.0]' in capsys.readouterr().out  # an EMF metric on stdout
    answered = [line for line in logs.lines if line["message"] == "answered"]
    assert answered[-1]["sessionId"] == session["sessionId"]  # the log lines carry the session
    assert answered[-1]["status"] == 201 and answered[-1]["routeKey"] == "POST /sessions"


def test_create_accepts_every_field_and_no_body_at_all_but_not_a_null_one(api):
    full = api.create("alice", title="T", sourceLanguage="pt-BR", maxListeners=3)
    assert (full["sourceLanguage"], full["maxListeners"]) == ("pt-BR", 3)
    empty = api.http("POST", "/sessions", user="alice")
    assert empty.status == 201 and empty.body["title"] == ""
    null = api.http("POST", "/sessions", user="alice", raw_body="null")  # a body, and not an object
    assert (null.status, null.error["code"], null.error["field"]) == (400, "VALIDATION_ERROR", "body")
    limit = api.runtime.settings.max_listeners_limit
    assert api.create("alice", maxListeners=limit)["maxListeners"] == limit


def test_create_reads_a_base64_encoded_body(api):
    answer = api.http("POST", "/sessions", user="alice", body={"title": "Über"}, base64_body=True)
    assert answer.status == 201 and answer.body["title"] == "Über"


def test_idempotent_create_replays_the_same_session_and_refuses_a_different_body(api, capsys):
    headers = {"Idempotency-Key": "create-1"}
    first = api.http("POST", "/sessions", user="alice", body={"title": "T"}, headers=headers)
    capsys.readouterr()
    again = api.http("POST", "/sessions", user="alice", body={"title": "T"}, headers=headers)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == ("false", "true")
    assert "SessionCreated" not in capsys.readouterr().out
    reused = api.http("POST", "/sessions", user="alice", body={"title": "Other"}, headers=headers)
    assert reused.status == 422
    assert reused.error["code"] == "IDEMPOTENCY_KEY_REUSED" and reused.error["field"] == "Idempotency-Key"
    # The key is per user: bob's identical key creates bob's own session.
    bobs = api.http("POST", "/sessions", user="bob", body={"title": "T"}, headers=headers)
    assert bobs.status == 201 and bobs.body["sessionId"] != first.body["sessionId"]
    assert len(api.http("GET", "/sessions", user="alice").body["items"]) == 1


def test_a_malformed_idempotency_key_is_a_validation_error(api):
    answer = api.http("POST", "/sessions", user="alice", body={}, headers={"Idempotency-Key": "has spaces!"})
    assert answer.status == 400 and answer.error["field"] == "Idempotency-Key"
    assert api.http("GET", "/sessions", user="alice").body["items"] == []


# ------------------------------------------------------------------ list


def test_listing_is_own_sessions_newest_first_across_pages(api):
    made = [api.create("alice", title=f"s{i}")["sessionId"] for i in range(5)]
    api.create("bob")
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        answer = api.http("GET", "/sessions", user="alice", query=query)
        assert answer.status == 200
        assert all(set(item) == OWNER_FIELDS and item["ownerId"] == "alice" for item in answer.body["items"])
        seen += [item["sessionId"] for item in answer.body["items"]]
        pages += 1
        cursor = answer.body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(made) and len(seen) == 5
    created = [api.session(s).createdAt for s in seen]
    assert created == sorted(created, reverse=True)
    assert [i["ownerId"] for i in api.http("GET", "/sessions", user="bob").body["items"]] == ["bob"]


def test_listing_refuses_a_tampered_foreign_forged_or_stale_cursor(api):
    for _ in range(3):
        api.create("alice")
    api.create("bob")
    api.create("bob")
    cursor = api.http("GET", "/sessions", user="alice", query={"limit": "1"}).body["nextCursor"]
    bobs = api.http("GET", "/sessions", user="bob", query={"limit": "1"}).body["nextCursor"]
    # Alice's key, sealed under a secret that is not the deployment's: a forgery, or a cursor from before a rotation.
    key = fixed_cursor_seal().open(cursor, attributes=USER_SESSIONS.cursor_attributes, listing=_alices_sessions())
    stale = CursorSeal.from_secret("another-secret-" + "x" * 32).seal(key, listing=_alices_sessions())
    legacy = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")  # the old readable format
    for bad in (cursor[:-3] + "zzz", cursor[:10], "not-a-cursor", bobs, stale, legacy, "x" * 3000):
        answer = api.http("GET", "/sessions", user="alice", query={"limit": "1", "cursor": bad})
        assert answer.status == 400, bad
        assert (answer.error["code"], answer.error["field"]) == ("VALIDATION_ERROR", "cursor")
    assert api.http("GET", "/sessions", user="alice", query={"limit": "1", "cursor": cursor}).status == 200


def test_a_cursor_shows_nothing_of_the_table(api):
    for _ in range(2):
        api.create("alice")
    cursor = api.http("GET", "/sessions", user="alice", query={"limit": "1"}).body["nextCursor"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert not any(shown in raw for shown in (b"GSI1", b"USER#", b"SESSION#", b"alice"))


def _alices_sessions() -> str:
    partition = (USER_SESSIONS.partition_attr, user_sessions_partition("alice"))
    return listing_of(partition, (USER_SESSIONS.sort_attr, USER_SESSIONS.sort_prefix))


# ------------------------------------------------------------------ read


def test_anyone_reads_the_public_view_and_the_owner_the_owner_view(api):
    sid = api.create("alice", title="Open")["sessionId"]
    anonymous = api.http("GET", f"/sessions/{sid}")
    assert anonymous.status == 200 and set(anonymous.body) == PUBLIC_FIELDS
    other = api.http("GET", f"/sessions/{sid}", token=api.token("bob"))
    assert other.status == 200 and set(other.body) == PUBLIC_FIELDS
    owner = api.http("GET", f"/sessions/{sid}", token=api.token("alice"))
    assert owner.status == 200 and set(owner.body) == OWNER_FIELDS


def test_a_typed_session_id_is_normalized_and_a_malformed_one_is_a_validation_error(api):
    sid = api.create("alice")["sessionId"]
    typed = " ".join(part.capitalize() for part in sid.split("-")).replace(" ", "%20")
    assert api.http("GET", f"/sessions/{typed}").body["sessionId"] == sid
    for bad in ("not_an_id", "quiet-river-48", "a" * 80):
        answer = api.http("GET", f"/sessions/{bad}")
        assert answer.status == 400, bad
        assert (answer.error["code"], answer.error["field"]) == ("VALIDATION_ERROR", "sessionId")


def test_an_unknown_session_is_404_session_not_found(api):
    answer = api.http("GET", "/sessions/quiet-river-000")
    assert answer.status == 404 and answer.error["code"] == "SESSION_NOT_FOUND"


def test_a_present_but_invalid_token_on_an_optional_route_is_401(api):
    sid = api.create("alice")["sessionId"]
    expired = api.issuer.mint("alice", ttl_seconds=-3600)
    for token in ("garbage", expired, api.token("alice")[:-4] + "AAAA"):
        answer = api.http("GET", f"/sessions/{sid}", token=token)
        assert answer.status == 401 and answer.error["code"] == "UNAUTHORIZED"
    basic = api.http("GET", f"/sessions/{sid}", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert basic.status == 401


# ------------------------------------------------------------------ change


def test_status_transitions_are_stored_and_sent_to_every_connection(api, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    api.listen(sid, "listener-1")
    paused = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"status": "paused"})
    assert paused.status == 200 and paused.body["status"] == "paused"
    assert set(paused.body) == OWNER_FIELDS
    assert api.session(sid).status.value == "paused"
    for conn in ("speaker-1", "listener-1"):
        stored = api.session(sid)
        assert management.sent[conn][-1] == {"type": "sessionUpdated", "session": stored.public_view(), "seq": 1}
    resumed = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"status": "active"})
    assert resumed.body["status"] == "active"
    assert management.types_sent_to("listener-1") == ["sessionUpdated", "sessionUpdated"]
    assert management.closed == []


def test_an_illegal_transition_is_409_naming_both_states_and_changes_nothing(api, management):
    sid = api.create("alice", title="Before")["sessionId"]
    api.listen(sid, "listener-1")
    answer = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"status": "active", "title": "After"})
    assert answer.status == 409
    error = answer.error
    assert (error["code"], error["from"], error["to"], error["field"]) == (
        "INVALID_TRANSITION",
        "active",
        "active",
        "status",
    )
    api.http("DELETE", f"/sessions/{sid}", user="alice")
    management.sent.clear()
    again = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"status": "paused"})
    assert again.status == 409 and "'ended'" in again.error["message"] and "'paused'" in again.error["message"]
    assert (again.error["from"], again.error["to"]) == ("ended", "paused")
    assert api.session(sid).title == "Before" and dict(management.sent) == {}


def test_title_and_muted_changes_are_stored_and_sent(api, management):
    sid = api.create("alice", title="Old")["sessionId"]
    api.listen(sid, "listener-1")
    answer = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"title": "New", "muted": True})
    assert answer.status == 200 and (answer.body["title"], answer.body["muted"]) == ("New", True)
    stored = api.session(sid)
    assert (stored.title, stored.muted) == ("New", True)
    assert management.sent["listener-1"] == [{"type": "sessionUpdated", "session": stored.public_view(), "seq": 1}]


def test_a_null_title_clears_it_and_an_empty_create_title_is_the_default(api, management):
    sid = api.create("alice", title="Old")["sessionId"]
    api.listen(sid, "listener-1")
    answer = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"title": None})
    assert answer.status == 200 and answer.body["title"] == ""
    assert api.session(sid).title == ""
    assert management.types_sent_to("listener-1") == ["sessionUpdated"]
    created = api.http("POST", "/sessions", user="alice", body={"title": ""})
    assert created.status == 201 and created.body["title"] == ""


def test_patch_with_status_and_title_applies_both(api, management):
    sid = api.create("alice", title="Old")["sessionId"]
    api.listen(sid, "listener-1")
    answer = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"status": "ended", "title": "Final"})
    assert answer.status == 200 and (answer.body["status"], answer.body["title"]) == ("ended", "Final")
    assert management.types_sent_to("listener-1") == ["sessionUpdated", "sessionEnded"]
    assert management.closed == ["listener-1"]


def test_changing_an_ended_session_title_is_410_session_ended(api):
    sid = api.create("alice")["sessionId"]
    api.http("DELETE", f"/sessions/{sid}", user="alice")
    answer = api.http("PATCH", f"/sessions/{sid}", user="alice", body={"muted": True})
    assert answer.status == 410 and answer.error["code"] == "SESSION_ENDED"


def test_writes_to_an_unknown_session_are_404(api):
    for method, body in (("PATCH", {"muted": True}), ("DELETE", None)):
        answer = api.http(method, "/sessions/quiet-river-000", user="alice", body=body)
        assert answer.status == 404 and answer.error["code"] == "SESSION_NOT_FOUND"


# ------------------------------------------------------------------ end


def test_delete_ends_the_session_tells_everyone_and_disconnects_listeners_repeatably(api, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    api.listen(sid, "listener-1")
    api.listen(sid, "listener-2", user="bob")
    answer = api.http("DELETE", f"/sessions/{sid}", user="alice")
    assert answer.status == 204 and answer.raw_body is None
    ended = api.session(sid)
    assert ended.status.value == "ended" and ended.endedAt is not None and ended.expiresAt is not None
    # The status change, as every change is told, then the end itself; then the listeners are closed.
    view = ended.public_view()
    told = [
        {"type": "sessionUpdated", "session": {**view, "seq": 1}, "seq": 1},
        {"type": "sessionEnded", "session": view, "seq": 2},
    ]
    for conn in ("speaker-1", "listener-1", "listener-2"):
        assert management.sent[conn] == told
    assert sorted(management.closed) == ["listener-1", "listener-2"]  # the speaker stays to see the end

    again = api.http("DELETE", f"/sessions/{sid}", user="alice")
    assert again.status == 204
    assert api.session(sid) == ended  # nothing rewritten
    assert management.sent["listener-1"] == told  # an ended session is not announced again
    assert sorted(management.closed) == ["listener-1", "listener-2"]


def test_delete_removes_connections_that_are_gone(api, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "listener-1")
    api.listen(sid, "listener-gone")
    management.gone.add("listener-gone")
    assert api.http("DELETE", f"/sessions/{sid}", user="alice").status == 204
    assert api.store.get_connection("listener-gone") is None
    assert management.closed == ["listener-1"]
