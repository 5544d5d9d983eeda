"""Every refusal has the contract's body, a code, the field at fault, and leaves nothing written."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from session_schema.models import Session

from tests.support.aws import TABLE_NAME
from tests.support.http_events import http_event

LONG = "x" * 201


def item_count(ddb) -> int:
    return ddb.scan(TableName=TABLE_NAME, Select="COUNT")["Count"]


def assert_error(answer, status: int, code: str, field: str | None = None) -> dict:
    assert answer.status == status, answer.raw_body
    assert answer.headers["Content-Type"] == "application/json"
    error = answer.error
    assert set(answer.body) == {"error"}
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]
    assert error["requestId"]
    if field is not None:
        assert error["field"] == field, error
    return error


# Bad create requests: (raw body or JSON body, field named). None of them may write anything.
BAD_CREATES = [
    ("{not json", "body"),
    ('{"title": "unterminated', "body"),
    ("[1, 2]", "body"),
    ('"a string"', "body"),
    ("42", "body"),
    ("[]", "body"),
    ('[{"title": "first element"}]', "body"),
    ("[null]", "body"),
    ("null", "body"),
    ({"title": LONG}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "\t\n"}, "title"),
    ({"title": "Talk\x00"}, "title"),
    ({"title": "\u200b"}, "title"),  # a zero-width space shows as nothing
    ({"title": "\ufeff\u3164 "}, "title"),
    ({"title": 5}, "title"),
    ({"title": ["a"]}, "title"),
    ({"maxListeners": "5"}, "maxListeners"),
    ({"maxListeners": True}, "maxListeners"),
    ({"maxListeners": 1.5}, "maxListeners"),
    ({"maxListeners": 0}, "maxListeners"),
    ({"maxListeners": -3}, "maxListeners"),
    ({"maxListeners": 10**9}, "maxListeners"),
    ({"sourceLanguage": "english!"}, "sourceLanguage"),
    ({"sourceLanguage": ""}, "sourceLanguage"),
    ({"isActive": True}, "isActive"),
    ({"title": "ok", "ownerId": "mallory"}, "ownerId"),
    ({"title": "ok", "status": "ended"}, "status"),
]


def test_bad_create_bodies_are_400_naming_the_field_and_write_nothing(api, ddb):
    for body, field in BAD_CREATES:
        kwargs = {"raw_body": body} if isinstance(body, str) else {"body": body}
        answer = api.http("POST", "/sessions", user="alice", **kwargs)
        assert answer.status == 400 and answer.error.get("field") == field, (body, answer.raw_body)
        assert_error(answer, 400, "VALIDATION_ERROR", field)
    assert item_count(ddb) == 0
    assert api.http("GET", "/sessions", user="alice").body["items"] == []


def test_unreadable_bodies_are_400_on_body_never_500(api, ddb):
    cases = [
        {"raw_body": b"\xff\xfe{\x00"},  # not UTF-8 (sent base64-encoded, as API Gateway does for binary)
        {"raw_body": "[" * 50_000 + "]" * 50_000},  # deeper than the JSON parser recurses
    ]
    for kwargs in cases:
        answer = api.http("POST", "/sessions", user="alice", **kwargs)
        assert_error(answer, 400, "VALIDATION_ERROR", "body")
    event = http_event("POST", "/sessions", user="alice", raw_body="!!!notbase64")
    event["isBase64Encoded"] = True  # API Gateway says base64, the body is not
    assert_error(api.http_answer(event), 400, "VALIDATION_ERROR", "body")
    assert item_count(ddb) == 0


def test_a_body_that_is_not_json_is_415(api, ddb):
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"):
        answer = api.http("POST", "/sessions", user="alice", raw_body="title=x", content_type=content_type)
        assert_error(answer, 415, "UNSUPPORTED_MEDIA_TYPE", "content-type")
    json_body = api.http("POST", "/sessions", user="alice", body={}, content_type="application/json; charset=utf-8")
    assert json_body.status == 201
    assert item_count(ddb) == 1  # the one session created with a JSON body, nothing else


def test_bad_patch_bodies_are_400_naming_the_field_and_change_nothing(api, management):
    sid = api.create("alice", title="Same")["sessionId"]
    before = api.session(sid)
    for body, field in (
        ({}, "body"),
        ({"status": None, "muted": None}, "body"),
        ({"title": ""}, "title"),  # a title is cleared with null, never set to nothing
        ({"title": "\u200b\u200d"}, "title"),
        ({"status": "bogus"}, "status"),
        ({"status": "ACTIVE"}, "status"),
        ({"muted": "yes"}, "muted"),
        ({"muted": 1}, "muted"),
        ({"title": LONG}, "title"),
        ({"title": " "}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"listenerCount": 0}, "listenerCount"),
    ):
        answer = api.http("PATCH", f"/sessions/{sid}", user="alice", body=body)
        assert_error(answer, 400, "VALIDATION_ERROR", field)
    assert api.session(sid) == before and dict(management.sent) == {}


def test_bad_message_bodies_are_400_and_store_nothing(api, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "listener-1")
    for body, field in (
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "x" * 4001}, "text"),
        ({"text": 7}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "\u2003\n"}, "text"),  # an em space is whitespace too
        ({"text": "\u200b"}, "text"),  # a zero-width space is invisible
        ({"text": "\u2060\ufe0f \u00ad"}, "text"),
        ({"text": "hi\x00"}, "text"),
        ({"text": "hi", "senderId": "bob"}, "senderId"),
    ):
        answer = api.http("POST", f"/sessions/{sid}/messages", user="alice", body=body)
        assert_error(answer, 400, "VALIDATION_ERROR", field)
    assert api.store.list_messages(sid, limit=10, cursor=None).items == []
    assert dict(management.sent) == {}


def test_bad_query_parameters_are_400_naming_the_parameter(api):
    sid = api.create("alice")["sessionId"]
    for path, query, field in (
        ("/sessions", {"limit": "-1"}, "limit"),
        ("/sessions", {"limit": "0"}, "limit"),
        ("/sessions", {"limit": "101"}, "limit"),
        ("/sessions", {"limit": "ten"}, "limit"),
        ("/sessions", {"limit": "1,2"}, "limit"),
        ("/sessions", {"cursor": ""}, "cursor"),
        (f"/sessions/{sid}/messages", {"since": "-5"}, "since"),
        (f"/sessions/{sid}/messages", {"since": "yesterday"}, "since"),
        (f"/sessions/{sid}/messages", {"limit": "1000"}, "limit"),
        (f"/sessions/{sid}/messages", {"cursor": "eyJ4IjoxfQ"}, "cursor"),
    ):
        answer = api.http("GET", path, user="alice", query=query)
        assert_error(answer, 400, "VALIDATION_ERROR", field)


def test_an_unexpected_failure_is_500_internal_error_without_internals_and_is_logged(api, monkeypatch, capsys, logs):
    sid = api.create("alice")["sessionId"]

    def explode(*args, **kwargs):
        raise RuntimeError("secret detail at /var/task/session_store/store.py line 42")

    monkeypatch.setattr(api.runtime.store, "get_session", explode)
    answer = api.http("GET", f"/sessions/{sid}")
    error = assert_error(answer, 500, "INTERNAL_ERROR")
    assert "secret" not in answer.raw_body and "store.py" not in answer.raw_body and "Traceback" not in answer.raw_body
    assert set(error) == {"code", "message", "requestId"}
    logged = [line for line in logs.lines if line["message"] == "unhandled error"]
    assert logged and "secret detail" in logged[0]["exception"]
    assert logged[0]["correlation_id"] == error["requestId"]
    assert '"ErrorCode":"INTERNAL_ERROR"' in capsys.readouterr().out


def test_an_answer_that_breaks_its_own_schema_is_500_not_4xx(api, monkeypatch):
    sid = api.create("alice")["sessionId"]
    original = Session.public_view
    monkeypatch.setattr(Session, "public_view", lambda self: {**original(self), "internalSecret": "x"})
    answer = api.http("GET", f"/sessions/{sid}")
    assert_error(answer, 500, "INTERNAL_ERROR")
    assert "internalSecret" not in answer.raw_body


def test_dynamodb_throttling_is_429_rate_limited(api, monkeypatch):
    def throttled(*args, **kwargs):
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "Query"
        )

    monkeypatch.setattr(api.runtime.store, "list_user_sessions", throttled)
    answer = api.http("GET", "/sessions", user="alice")
    assert_error(answer, 429, "RATE_LIMITED")
    assert answer.headers["Retry-After"] == "1"


def test_a_throttled_transaction_is_429_and_a_message_is_not_half_stored(api, monkeypatch):
    sid = api.create("alice")["sessionId"]

    def cancelled(**kwargs):
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                "CancellationReasons": [{"Code": "ThrottlingError"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )

    monkeypatch.setattr(api.runtime.store.client, "transact_write_items", cancelled)
    answer = api.http("POST", f"/sessions/{sid}/messages", user="alice", body={"text": "hi"})
    assert_error(answer, 429, "RATE_LIMITED")
    assert answer.headers["Retry-After"] == "1"
    monkeypatch.undo()
    assert api.http("GET", f"/sessions/{sid}/messages", user="alice").body["items"] == []


def test_each_error_is_counted_by_code(api, capsys):
    api.http("GET", "/sessions/quiet-river-000")
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    errors = [m for m in metrics if "Error" in m]
    assert len(errors) == 1 and errors[0]["ErrorCode"] == "SESSION_NOT_FOUND"
    assert "ErrorCode" in errors[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]


def test_health_is_ok_when_the_table_answers_and_503_when_it_does_not(api, monkeypatch):
    ok = api.http("GET", "/health")
    assert ok.status == 200 and ok.body == {"status": "ok"}

    def down(**kwargs):
        raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no table"}}, "GetItem")

    monkeypatch.setattr(api.runtime.store.client, "get_item", down)
    answer = api.http("GET", "/health")
    assert answer.status == 503 and answer.body == {"status": "unavailable"}
