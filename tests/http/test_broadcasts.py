"""Publishing over HTTP through the handler: the owner's `POST /sessions/{id}/broadcasts` and the producers' IAM
twin `POST /iam/sessions/{id}/broadcasts` (same body, same answer), their refusals, and what listeners get."""

from __future__ import annotations

import pytest

from http_session_handler.producers import is_granted
from session_schema.models import Connection

from tests.support.http_events import http_event

GRANTED_ROLE = "arn:aws:iam::111122223333:role/pipelines/captions"
GRANTED_SESSION = "arn:aws:sts::111122223333:assumed-role/captions/job-42"
OTHER_SESSION = "arn:aws:sts::111122223333:assumed-role/admin/alice"


def _events(count: int) -> dict:
    return {"events": [{"data": {"line": index}} for index in range(count)]}


def _register(api, sid: str, connection_id: str, version: int) -> None:
    now = api.store.clock()
    api.store.register_connection(
        Connection(
            connectionId=connection_id,
            sessionId=sid,
            role="listener",
            connectedAt=now - 60_000,
            expiresAt=now // 1000 + 3600,
            protocolVersion=version,
        )
    )


def _signed(sid: str, body: dict, user_arn: str | None) -> dict:
    """The event API Gateway's IAM authorizer delivers for a request `user_arn` signed (None: no block)."""
    event = http_event("POST", f"/iam/sessions/{sid}/broadcasts", body=body)
    if user_arn is not None:
        event["requestContext"]["authorizer"] = {
            "iam": {
                "accessKey": "ASIAEXAMPLE",
                "accountId": "111122223333",
                "callerId": "AROAEXAMPLE:job-42",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": user_arn,
                "userId": "AROAEXAMPLE:job-42",
            }
        }
    return event


@pytest.fixture
def granted(api):
    api.runtime.settings = api.runtime.settings.model_copy(update={"publisher_role_arns": GRANTED_ROLE})
    return api


def test_the_owner_publishes_five_events_a_v2_listener_gets_one_batch_frame_a_v1_listener_five(api, management):
    sid = api.create("alice")["sessionId"]
    _register(api, sid, "v2-listener", 2)
    _register(api, sid, "v1-listener", 1)
    answer = api.http("POST", f"/sessions/{sid}/broadcasts", user="alice", body=_events(5))
    assert answer.status == 201, answer.raw_body
    assert answer.body == {"items": [{"channel": None, "seq": seq} for seq in range(1, 6)]}
    (batch,) = management.sent["v2-listener"]
    assert batch["type"] == "batch"
    assert [(e["type"], e["seq"], e["data"]) for e in batch["events"]] == [
        ("broadcast", seq, {"line": seq - 1}) for seq in range(1, 6)
    ]
    assert management.sent["v1-listener"] == batch["events"]
    kept = api.http("GET", f"/sessions/{sid}/events", query={"sinceSeq": "0", "epoch": api.session(sid).epoch})
    assert [event["seq"] for event in kept.body["items"]] == [1, 2, 3, 4, 5]


def test_a_publish_of_k_events_is_one_transaction_on_the_stream_head_after_what_it_holds(api):
    """The k events are numbered from the head and kept with its move in ONE TransactWriteItems (the stream's
    publish): no seq is claimed without its event, and they follow whatever the stream already holds."""
    from collections import Counter

    sid = api.create("alice")["sessionId"]
    assert api.http("POST", f"/sessions/{sid}/broadcasts", user="alice", body=_events(2)).status == 201
    counted: Counter = Counter()

    def count(model, **kwargs):
        counted[model.name] += 1

    client_events = api.runtime.store.client.meta.events
    client_events.register("before-call.dynamodb", count, unique_id="publish-request-counter")
    try:
        answer = api.http("POST", f"/sessions/{sid}/broadcasts", user="alice", body=_events(25))
    finally:
        client_events.unregister("before-call.dynamodb", unique_id="publish-request-counter")
    assert answer.status == 201, answer.raw_body
    assert [item["seq"] for item in answer.body["items"]] == list(range(3, 28))
    assert counted["TransactWriteItems"] == 1 and counted["UpdateItem"] == 0 and counted["PutItem"] == 0
    assert api.session(sid).seq == 27


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "events"),
        ({"events": []}, "events"),
        (_events(26), "events"),
        ({"events": [{"channel": "es"}]}, "events[0].data"),
        ({"events": [{"data": 1}, {"data": 2, "extra": True}]}, "events[1].extra"),
        ({"events": [{"data": 1, "channel": "Not A Channel"}]}, "events[0].channel"),
        ({"events": [{"data": 1}, {"data": 2}, {"data": 3}, {"data": "x" * (32 * 1024 - 60)}]}, "events[3].data"),
    ],
)
def test_a_malformed_publish_is_a_validation_error_naming_the_field_and_publishes_nothing(api, body, field):
    sid = api.create("alice")["sessionId"]
    answer = api.http("POST", f"/sessions/{sid}/broadcasts", user="alice", body=body)
    assert answer.status == 400 and answer.error["code"] == "VALIDATION_ERROR", answer.raw_body
    assert answer.error["field"] == field
    assert api.session(sid).seq == 0


def test_the_largest_data_that_fits_a_frame_once_wrapped_is_accepted(api, management):
    from session_protocol.frames import broadcast_size as wrapped_size

    sid = api.create("alice")["sessionId"]
    _register(api, sid, "listener", 1)
    data = "x" * (32 * 1024 - wrapped_size(""))
    assert wrapped_size(data) == 32 * 1024
    answer = api.http("POST", f"/sessions/{sid}/broadcasts", user="alice", body={"events": [{"data": data}]})
    assert answer.status == 201, answer.raw_body
    assert len(management.sent["listener"]) == 1


def test_an_undeclared_channel_is_invalid_channel_naming_the_event(api):
    sid = api.create("alice")["sessionId"]
    body = {"events": [{"data": 1}, {"data": 2, "channel": "es"}]}
    answer = api.http("POST", f"/sessions/{sid}/broadcasts", user="alice", body=body)
    assert answer.status == 400 and answer.error["code"] == "INVALID_CHANNEL"
    assert answer.error["field"] == "events[1].channel"
    assert api.session(sid).seq == 0


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"status": "paused"}, 409, "SESSION_PAUSED"),
        ({"muted": True}, 409, "SESSION_MUTED"),
        ({"status": "ended"}, 410, "SESSION_ENDED"),
    ],
)
def test_a_session_that_is_not_live_refuses_as_a_websocket_broadcast_does(api, change, status, code):
    sid = api.create("alice")["sessionId"]
    assert api.http("PATCH", f"/sessions/{sid}", user="alice", body=change).status == 200
    seq = api.session(sid).seq
    answer = api.http("POST", f"/sessions/{sid}/broadcasts", user="alice", body=_events(2))
    assert (answer.status, answer.error["code"]) == (status, code)
    assert api.session(sid).seq == seq


def test_only_the_owner_publishes_with_a_token(api):
    sid = api.create("alice")["sessionId"]
    assert api.http("POST", f"/sessions/{sid}/broadcasts", user="mallory", body=_events(1)).error["code"] == (
        "FORBIDDEN"
    )
    assert api.http("POST", f"/sessions/{sid}/broadcasts", body=_events(1)).status == 401
    assert api.http("POST", "/sessions/quiet-river-999/broadcasts", user="alice", body=_events(1)).status == 404


def test_a_granted_producer_publishes_on_the_iam_route_with_the_same_answer(granted, management):
    api = granted
    sid = api.create("alice")["sessionId"]
    _register(api, sid, "listener", 2)
    answer = api.http_answer(_signed(sid, _events(3), GRANTED_SESSION))
    assert answer.status == 201, answer.raw_body
    assert answer.body == {"items": [{"channel": None, "seq": seq} for seq in (1, 2, 3)]}
    assert [e["seq"] for e in management.sent["listener"][0]["events"]] == [1, 2, 3]


def test_a_signer_the_deployment_did_not_grant_is_forbidden_whatever_its_body(granted):
    sid = granted.create("alice")["sessionId"]
    for body in (_events(1), {"events": []}):
        answer = granted.http_answer(_signed(sid, body, OTHER_SESSION))
        assert answer.status == 403 and answer.error["code"] == "FORBIDDEN"
    assert granted.session(sid).seq == 0


def test_the_iam_route_reads_no_token_and_the_token_route_reads_no_signer(granted):
    sid = granted.create("alice")["sessionId"]
    # The owner's valid token on the IAM route, with no signer (no authorizer ran): refused.
    unsigned = http_event("POST", f"/iam/sessions/{sid}/broadcasts", body=_events(1), user="alice")
    assert granted.http_answer(unsigned).status == 401
    # A granted signer's block on the token route (nothing trustworthy puts it there): not a caller.
    forged = _signed(sid, _events(1), GRANTED_SESSION)
    forged["routeKey"] = forged["requestContext"]["routeKey"] = "POST /sessions/{sessionId}/broadcasts"
    forged["rawPath"] = forged["requestContext"]["http"]["path"] = f"/sessions/{sid}/broadcasts"
    assert granted.http_answer(forged).status == 401
    assert granted.session(sid).seq == 0


@pytest.mark.parametrize(
    ("signer", "granted_arns", "expected"),
    [
        (GRANTED_SESSION, (GRANTED_ROLE,), True),  # a session of the role: its path is not in the session's ARN
        (GRANTED_ROLE, (GRANTED_ROLE,), True),
        ("arn:aws:sts::444455556666:assumed-role/captions/job-42", (GRANTED_ROLE,), False),  # another account
        ("arn:aws-cn:sts::111122223333:assumed-role/captions/job-42", (GRANTED_ROLE,), False),  # another partition
        (OTHER_SESSION, (GRANTED_ROLE,), False),
        ("arn:aws:iam::111122223333:user/captions", (GRANTED_ROLE,), False),  # a user named like the role
        ("arn:aws:iam::111122223333:user/ci", ("arn:aws:iam::111122223333:user/ci",), True),
        (GRANTED_SESSION, (), False),
    ],
)
def test_a_signer_is_granted_by_its_role_s_account_and_name(signer, granted_arns, expected):
    assert is_granted(signer, granted_arns) is expected
