"""Retention of a session's data (session_runtime/session_purge.py): an ended session's artifacts expire with it
(the sweep purges records and stored objects when its retention ends) unless its owner keeps them, and the owner
can delete a session's data entirely, a bounded number of items a request (202, repeat)."""

from __future__ import annotations

from typing import Any

from session_runtime import session_purge
from session_schema import keys
from session_schema.models import Ban

from tests.http.test_artifact_uploads import notify, uploaded
from tests.http.test_artifacts import bucket_keys, patch
from tests.http.test_upload_reconciliation import later
from tests.support.images import png


def items_of(api: Any, session_id: str) -> list[str]:
    """The sort keys of every item under the session's partition."""
    answer = api.store.client.query(
        TableName=api.store.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.SESSION_PREFIX + session_id}},
        ConsistentRead=True,
    )
    return [item["SK"]["S"] for item in answer["Items"]]


def confirmed(api: Any, s3: Any, sid: str, **body: Any) -> dict[str, Any]:
    artifact = uploaded(api, s3, sid, png(4, 4), **body)
    assert notify(s3, artifact["objectKey"]) == {"completed": 1}
    return artifact


def result_of(api: Any, s3: Any, sid: str, parent_id: str) -> dict[str, Any]:
    body = {"kind": "image", "contentType": "image/png", "fileName": "staged.png"}
    created = api.http("POST", f"/sessions/{sid}/artifacts/{parent_id}/results", user="alice", body=body)
    assert created.status == 201, created.raw_body
    from tests.http.test_artifacts import upload

    assert upload(s3, created.body["upload"], png(2, 2))[0] == 204
    return dict(created.body["artifact"])


def retention_seconds(api: Any) -> int:
    return api.runtime.settings.ended_session_ttl_days * 86400


def test_the_owner_deletes_a_live_sessions_data_entirely_a_batch_a_request(api, s3, management, monkeypatch):
    monkeypatch.setattr(session_purge, "PURGE_BATCH", 2)
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "listener-1")
    photo = confirmed(api, s3, sid)
    result_of(api, s3, sid, photo["artifactId"])
    confirmed(api, s3, sid, fileName="notes.png")
    assert patch(api, sid, photo["artifactId"], keep=True).status == 200  # the owner's delete takes kept ones too
    assert len(bucket_keys(s3)) == 3

    answers = []
    while True:
        answer = api.http("DELETE", f"/sessions/{sid}/data", user="alice")
        answers.append(answer.status)
        if answer.status != 202:
            break
        assert answer.body == {"deleted": 2}
    assert answers[-1] == 204 and answers.count(202) >= 2
    assert [f["type"] for f in management.sent["listener-1"]][-1] == "sessionEnded"  # ended first
    assert "listener-1" in management.closed
    assert items_of(api, sid) == [] and bucket_keys(s3) == []
    assert api.http("GET", f"/sessions/{sid}", user="alice").status == 404
    assert api.http("DELETE", f"/sessions/{sid}/data", user="alice").status == 404


def bans_of(api: Any, session_id: str) -> list[str]:
    """The sort keys of the session's moderation bans (user IDs and display names)."""
    answer = api.store.client.query(
        TableName=api.store.table_name,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :ban)",
        ExpressionAttributeValues={":pk": {"S": keys.presence_partition(session_id)}, ":ban": {"S": keys.BAN_PREFIX}},
        ConsistentRead=True,
    )
    return [item["SK"]["S"] for item in answer["Items"]]


def test_deleting_a_sessions_data_deletes_its_bans_a_batch_a_request(api, s3, monkeypatch):
    """Bans hold personal data (a user's ID, a display name): they go with the session's data, bounded like the
    rest, and before the session item, so a stopped delete resumes and finds them."""
    monkeypatch.setattr(session_purge, "PURGE_BATCH", 2)
    sid = api.create("alice")["sessionId"]
    other = api.create("alice")["sessionId"]
    confirmed(api, s3, sid)
    for session_id, subject in [(sid, "user:bob"), (sid, "name:Heckler"), (sid, "user:carol"), (other, "user:bob")]:
        api.store.ban(Ban(sessionId=session_id, subject=subject, createdAt=1, expiresAt=2_000_000_000))
    assert len(bans_of(api, sid)) == 3

    statuses = []
    while (answer := api.http("DELETE", f"/sessions/{sid}/data", user="alice")).status == 202:
        statuses.append(answer.status)
        assert bans_of(api, sid) == [] or api.http("GET", f"/sessions/{sid}", user="alice").status == 200
    assert answer.status == 204 and len(statuses) >= 2
    assert bans_of(api, sid) == [] and items_of(api, sid) == [] and bucket_keys(s3) == []
    assert bans_of(api, other) == ["BAN#user:bob"]  # another session's are its own


def test_only_the_owner_deletes_a_sessions_data(api, s3):
    sid = api.create("alice")["sessionId"]
    confirmed(api, s3, sid)
    refused = api.http("DELETE", f"/sessions/{sid}/data", user="mallory")
    assert refused.status == 403 and refused.error["code"] == "FORBIDDEN"
    assert api.http("DELETE", f"/sessions/{sid}/data").status == 401
    assert len(bucket_keys(s3)) == 1 and api.http("GET", f"/sessions/{sid}", user="alice").status == 200


def test_an_ended_sessions_artifacts_expire_with_it_but_for_the_trees_its_owner_keeps(api, s3):
    sid = api.create("alice")["sessionId"]
    kept = confirmed(api, s3, sid, fileName="room.png")
    kept_result = result_of(api, s3, sid, kept["artifactId"])
    gone = confirmed(api, s3, sid, fileName="draft.png")
    assert patch(api, sid, kept["artifactId"], keep=True).body["keep"] is True
    assert api.http("DELETE", f"/sessions/{sid}", user="alice").status == 204  # ended: its retention starts

    assert api.sweep()["retention"]["retired"] == 0  # within its retention: nothing goes
    assert len(bucket_keys(s3)) == 3
    with later(api, retention_seconds(api)):
        retention = api.sweep()["retention"]  # the unkept artifact, the stream's events
        assert (retention["retired"], retention["unfinished"], retention["failed"]) == (1, 0, 0)
        assert api.sweep()["retention"]["retired"] == 0  # kept: out of the retiring list
    assert sorted(bucket_keys(s3)) == sorted([kept["objectKey"], kept_result["objectKey"]])
    remaining = items_of(api, sid)
    assert f"ART#{gone['artifactId']}" not in remaining and f"ART#{kept['artifactId']}" in remaining
    assert all(not sk.startswith(("EVT#", "MSG#")) for sk in remaining)  # the stream and messages went too
    session = api.store.get_session(sid, consistent=True)
    assert session.expiresAt is None  # the session stays, holding its kept artifacts
    listed = api.http("GET", f"/sessions/{sid}/artifacts", user="alice").body["items"]
    assert [a["artifactId"] for a in listed] == [kept["artifactId"]]


def test_an_ended_session_with_nothing_kept_is_gone_at_the_end_of_its_retention(api, s3):
    sid = api.create("alice")["sessionId"]
    confirmed(api, s3, sid)
    assert api.http("DELETE", f"/sessions/{sid}", user="alice").status == 204
    with later(api, retention_seconds(api)):
        assert api.sweep()["retention"]["retired"] == 1
    assert items_of(api, sid) == [] and bucket_keys(s3) == []
    assert api.http("GET", f"/sessions/{sid}", user="alice").status == 404


def test_a_kept_result_keeps_its_whole_tree(api, s3):
    sid = api.create("alice")["sessionId"]
    photo = confirmed(api, s3, sid)
    staged = result_of(api, s3, sid, photo["artifactId"])
    assert patch(api, sid, staged["artifactId"], keep=True).body["keep"] is True
    assert api.http("DELETE", f"/sessions/{sid}", user="alice").status == 204
    with later(api, retention_seconds(api)):
        assert api.sweep()["retention"]["retired"] == 1
    assert sorted(bucket_keys(s3)) == sorted([photo["objectKey"], staged["objectKey"]])
    listed = api.http("GET", f"/sessions/{sid}/artifacts/{photo['artifactId']}/results", user="alice").body["items"]
    assert [a["artifactId"] for a in listed] == [staged["artifactId"]]
