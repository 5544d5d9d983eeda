"""Message routes through the handler: stored first then fanned out; reading while joinable, owner always."""

from __future__ import annotations

MESSAGE_FIELDS = {"messageId", "sessionId", "text", "createdAt"}


def test_a_posted_message_is_stored_before_it_is_sent_to_every_connection(api, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    api.listen(sid, "listener-1")
    stored_when_sent = []
    post = management.post_to_connection

    async def observing_post(*, connection_id, data):
        stored_when_sent.append([m.text for m in api.store.list_messages(sid, limit=10, cursor=None).items])
        return await post(connection_id=connection_id, data=data)

    management.post_to_connection = observing_post
    answer = api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": "hello 👋"})
    assert answer.status == 201 and set(answer.body) == MESSAGE_FIELDS
    assert answer.body["text"] == "hello 👋" and answer.body["sessionId"] == sid
    assert stored_when_sent == [["hello 👋"], ["hello 👋"]]
    for conn in ("speaker-1", "listener-1"):
        assert management.sent[conn] == [{"type": "message", **answer.body, "seq": 1}]


def test_posting_to_an_ended_session_is_410_and_stores_nothing(api, management):
    sid = api.create("alice")["sessionId"]
    api.http("DELETE", f"/sessions/{sid}", user="alice")
    answer = api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": "late"})
    assert answer.status == 410 and answer.error["code"] == "SESSION_ENDED"
    assert api.store.list_messages(sid, limit=10, cursor=None).items == []


def test_a_failed_fanout_still_answers_201_because_the_message_is_stored(api, management, monkeypatch, logs):
    sid = api.create("alice")["sessionId"]

    def broken(*args, **kwargs):
        raise RuntimeError("connections query failed")

    monkeypatch.setattr(api.runtime.fanout, "send_many", broken)  # every fan-out of a session
    answer = api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": "kept"})
    assert answer.status == 201
    assert [m.text for m in api.store.list_messages(sid, limit=10, cursor=None).items] == ["kept"]
    assert any(line["message"] == "could not notify connections" for line in logs.lines)


def test_messages_read_oldest_first_across_pages_and_since(api):
    sid = api.create("alice")["sessionId"]
    clock = iter(range(1_000_000, 2_000_000, 1_000))
    api.store.clock = lambda: next(clock)
    texts = [f"m{i}" for i in range(5)]
    posted = [api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": t}).body for t in texts]
    seen, cursor = [], None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        answer = api.http("GET", f"/sessions/{sid}/messages", query=query)
        assert answer.status == 200
        assert all(set(item) == MESSAGE_FIELDS for item in answer.body["items"])
        seen += [item["text"] for item in answer.body["items"]]
        cursor = answer.body["nextCursor"]
        if cursor is None:
            break
    assert seen == texts
    since = api.http("GET", f"/sessions/{sid}/messages", query={"since": str(posted[2]["createdAt"])})
    assert [m["text"] for m in since.body["items"]] == ["m3", "m4"]
    assert since.body["nextCursor"] is None


def test_anyone_reads_while_joinable_and_only_the_owner_once_ended(api):
    sid = api.create("alice")["sessionId"]
    secret = "the-private-words-of-alice"  # no session ID, request ID or message can contain it by chance
    api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": secret})
    assert api.http("GET", f"/sessions/{sid}/messages").status == 200
    api.http("PATCH", f"/sessions/{sid}", user="alice", body={"status": "paused"})
    assert api.http("GET", f"/sessions/{sid}/messages", token=api.token("bob")).status == 200
    api.http("DELETE", f"/sessions/{sid}", user="alice")
    # Once ended, the conversation is a private view: anyone but the owner is told it is not found,
    # exactly as for an unknown session, and nothing of it leaks.
    unknown = api.http("GET", "/sessions/quiet-river-000/messages")
    for who, kwargs in (("anonymous", {}), ("another signed-in user", {"token": api.token("bob")})):
        answer = api.http("GET", f"/sessions/{sid}/messages", **kwargs)
        assert answer.status == 404 and answer.error["code"] == "SESSION_NOT_FOUND", who
        assert set(answer.body) == {"error"} and secret not in answer.raw_body, who
        assert answer.error["message"] == unknown.error["message"].replace("quiet-river-000", sid), who
    assert api.http("GET", f"/sessions/{sid}").status == 200  # the public view of the session stays readable
    owner = api.http("GET", f"/sessions/{sid}/messages", token=api.token("alice"))
    assert owner.status == 200 and [m["text"] for m in owner.body["items"]] == [secret]


def test_the_openapi_document_lists_404_not_410_for_reading_messages(api):
    answers = api.http("GET", "/openapi.json").body["paths"]["/sessions/{sessionId}/messages"]["get"]["responses"]
    assert "404" in answers and "410" not in answers


def test_messages_of_an_unknown_session_are_404(api):
    answer = api.http("GET", "/sessions/quiet-river-000/messages")
    assert answer.status == 404 and answer.error["code"] == "SESSION_NOT_FOUND"
    posted = api.http("POST", "/sessions/quiet-river-000/messages", user="alice", body={"text": "x"})
    assert posted.status == 404


def test_a_messages_cursor_of_another_session_is_refused(api):
    first = api.create("alice")["sessionId"]
    second = api.create("alice")["sessionId"]
    for sid in (first, second):
        for text in ("a", "b"):
            api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": text})
    cursor = api.http("GET", f"/sessions/{first}/messages", query={"limit": "1"}).body["nextCursor"]
    answer = api.http("GET", f"/sessions/{second}/messages", query={"cursor": cursor})
    assert answer.status == 400 and answer.error["field"] == "cursor"
