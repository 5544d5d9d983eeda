"""Derived results: `POST .../artifacts/{artifactId}/results` makes a child artifact stored under its parent's
prefix, `GET .../results` lists a parent's own results newest first, a completing PATCH records `processingMs`
and `processor`, and DELETE removes a subtree (records and objects), a bounded number of results a request."""

from __future__ import annotations

from typing import Any

import pytest

from session_runtime import use_cases
from session_schema import keys
from session_schema.models import Artifact

from tests.http.test_artifacts import PNG, bucket_keys, clock, create_artifact, upload
from tests.support.images import png

__all__ = ["clock"]  # the store clock fixture of the artifact tests


def result(api, sid: str, parent_id: str, user: str = "alice", **body: Any) -> dict[str, Any]:
    answer = api.http("POST", f"/sessions/{sid}/artifacts/{parent_id}/results", user=user, body=PNG | body)
    assert answer.status == 201, answer.raw_body
    return answer.body


def results(api, sid: str, parent_id: str, **query: str) -> Any:
    return api.http("GET", f"/sessions/{sid}/artifacts/{parent_id}/results", user="alice", query=query)


def test_a_result_and_a_result_of_it_are_stored_under_their_parents_prefix(api, s3, clock):
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid, fileName="room.png")["artifact"]
    staged = result(api, sid, photo["artifactId"], fileName="staged.png")
    edit = result(api, sid, staged["artifact"]["artifactId"], fileName="edit.png")
    root_dir = photo["objectKey"].rsplit("/", 1)[0]
    assert staged["artifact"]["parentId"] == photo["artifactId"]
    assert staged["artifact"]["objectKey"] == f"{root_dir}/{staged['artifact']['artifactId']}/staged.png"
    staged_dir = staged["artifact"]["objectKey"].rsplit("/", 1)[0]
    assert edit["artifact"]["objectKey"] == f"{staged_dir}/{edit['artifact']['artifactId']}/edit.png"
    assert edit["artifact"]["parentId"] == staged["artifact"]["artifactId"]
    for created in (staged, edit):  # each with its own presigned upload for exactly that key
        assert created["upload"]["fields"]["key"] == created["artifact"]["objectKey"]
        assert upload(s3, created["upload"], png(2, 2))[0] == 204
    # one item range per tree; the session's listing shows roots only
    stored = api.store.get_artifact(sid, edit["artifact"]["artifactId"])
    assert keys.artifact_key(sid, stored.artifactId, stored.rootId)["SK"].startswith(f"ARC#{photo['artifactId']}#")
    listed = api.http("GET", f"/sessions/{sid}/artifacts", user="alice").body["items"]
    assert [a["artifactId"] for a in listed] == [photo["artifactId"]]


def test_a_results_presigned_upload_key_is_exactly_the_one_derived_from_its_root(api):
    """`<ownerId>/<sessionId>/<root kind>/<rootId>/.../<parentId>/<artifactId>/<fileName>`, whatever the result's own
    kind, and the record read back carries the lineage it was derived from."""
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid, fileName="room.png")["artifact"]["artifactId"]
    staged = result(api, sid, photo, kind="frames", fileName="staged.png")["artifact"]["artifactId"]
    edit = result(api, sid, staged, kind="frames", fileName="edit.png")
    edit_id = edit["artifact"]["artifactId"]
    derived = f"alice/{sid}/image/{photo}/{staged}/{edit_id}/edit.png"
    assert edit["upload"]["fields"]["key"] == edit["artifact"]["objectKey"] == derived
    stored = api.store.get_artifact(sid, edit_id)
    assert (stored.kind, stored.rootKind, stored.ancestorIds) == ("frames", "image", (photo, staged))


def test_results_are_listed_newest_first_one_level_at_a_time_and_paged(api, clock):
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid)["artifact"]["artifactId"]
    made = []
    for n in range(3):
        clock.tick(1000)
        made.append(result(api, sid, photo, fileName=f"angle-{n}.png")["artifact"]["artifactId"])
    clock.tick(1000)
    result(api, sid, made[0], fileName="deeper.png")  # a result of a result: not the photo's own
    listed = results(api, sid, photo).body
    assert [a["artifactId"] for a in listed["items"]] == made[::-1] and listed["nextCursor"] is None
    first = results(api, sid, photo, limit="2").body
    rest = results(api, sid, photo, limit="2", cursor=first["nextCursor"]).body
    assert [a["artifactId"] for a in first["items"] + rest["items"]] == made[::-1]
    assert [a["fileName"] for a in results(api, sid, made[0]).body["items"]] == ["deeper.png"]


def test_results_are_the_owners_and_need_an_existing_parent(api):
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid)["artifact"]["artifactId"]
    foreign = api.http("POST", f"/sessions/{sid}/artifacts/{photo}/results", user="bob", body=PNG)
    assert foreign.status == 403
    assert results(api, sid, photo).status == 200
    hidden = api.http("GET", f"/sessions/{sid}/artifacts/{photo}/results", user="bob")
    assert hidden.status == 404 and hidden.error["code"] == "SESSION_NOT_FOUND"
    missing = "art_01HF7YAT00MASYHT3KVFKKE0HS"
    answer = api.http("POST", f"/sessions/{sid}/artifacts/{missing}/results", user="alice", body=PNG)
    assert answer.status == 404 and answer.error["code"] == "ARTIFACT_NOT_FOUND"
    refused = api.http("POST", f"/sessions/{sid}/artifacts/{photo}/results", user="alice", body=PNG | {"kind": "x"})
    assert refused.status == 400 and refused.error["field"] == "kind"


def test_a_completing_patch_of_a_result_records_processing_time_and_processor(api, clock):
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid)["artifact"]["artifactId"]
    staged = result(api, sid, photo)["artifact"]["artifactId"]
    path = f"/sessions/{sid}/artifacts/{staged}"
    assert api.http("PATCH", path, user="alice", body={"status": "processing"}).status == 200
    clock.tick(35_000)
    done = api.http("PATCH", path, user="alice", body={"status": "completed", "processor": "model-x-2"})
    assert done.status == 200, done.raw_body
    assert (done.body["processingMs"], done.body["processor"]) == (35_000, "model-x-2")
    refused = api.http("PATCH", path, user="alice", body={"status": "processing", "processor": "m"})
    assert refused.status == 400 and refused.error["field"] == "processor"


def test_deleting_an_artifact_deletes_its_subtree_records_and_objects(api, s3):
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid)
    other = create_artifact(api, sid, fileName="other.png")
    staged = result(api, sid, photo["artifact"]["artifactId"])
    edit = result(api, sid, staged["artifact"]["artifactId"])
    sibling = result(api, sid, photo["artifact"]["artifactId"])
    for created in (photo, other, staged, edit, sibling):
        assert upload(s3, created["upload"], png(1, 1))[0] == 204
    staged_id = staged["artifact"]["artifactId"]
    assert api.http("DELETE", f"/sessions/{sid}/artifacts/{staged_id}", user="alice").status == 204
    assert sorted(bucket_keys(s3)) == sorted(c["artifact"]["objectKey"] for c in (photo, other, sibling))
    assert [a["artifactId"] for a in results(api, sid, photo["artifact"]["artifactId"]).body["items"]] == [
        sibling["artifact"]["artifactId"]
    ]
    photo_id = photo["artifact"]["artifactId"]
    assert api.http("DELETE", f"/sessions/{sid}/artifacts/{photo_id}", user="alice").status == 204
    assert bucket_keys(s3) == [other["artifact"]["objectKey"]]
    assert api.http("DELETE", f"/sessions/{sid}/artifacts/{photo_id}", user="alice").status == 204  # repeatable
    remaining = api.store.client.scan(TableName=api.store.table_name)["Items"]
    assert not [item for item in remaining if item["SK"]["S"].startswith(keys.ARC_PREFIX)]


def test_a_large_subtree_is_deleted_a_bounded_batch_a_request_deepest_first(api, s3, monkeypatch):
    monkeypatch.setattr(use_cases, "SUBTREE_DELETE_BATCH", 2)
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid)["artifact"]["artifactId"]
    chain = [photo]
    for _ in range(3):
        chain.append(result(api, sid, chain[-1])["artifact"]["artifactId"])
    path = f"/sessions/{sid}/artifacts/{photo}"
    first = api.http("DELETE", path, user="alice")
    assert first.status == 202 and first.body == {"deleted": 2, "objectsDeleted": 0}  # nothing was uploaded
    left = {a.artifactId for a in _tree(api, sid, photo)}
    assert left == set(chain[:2])  # the two deepest went first: every remaining result keeps its parent
    assert api.http("DELETE", path, user="alice").status == 204
    assert _tree(api, sid, photo) == []


def test_deleting_an_artifact_deletes_every_object_under_its_prefix_a_bounded_page_a_request(api, s3, monkeypatch):
    """Objects no record names (a stray upload, a processor's scratch file under the tree) go too: the tree's
    prefix is listed a page at a time, objects first, then the records, each request reporting what it did."""
    monkeypatch.setattr(use_cases, "SUBTREE_DELETE_BATCH", 2)
    sid = api.create("alice")["sessionId"]
    photo, other = create_artifact(api, sid), create_artifact(api, sid, fileName="other.png")
    staged = result(api, sid, photo["artifact"]["artifactId"])
    for created in (photo, other, staged):
        assert upload(s3, created["upload"], png(1, 1))[0] == 204
    bucket = api.runtime.settings.artifacts_bucket
    tree = photo["artifact"]["objectKey"].rsplit("/", 1)[0]
    orphans = [f"{tree}/scratch/frame-{n}.png" for n in range(2)] + [
        staged["artifact"]["objectKey"].rsplit("/", 1)[0] + "/tmp.bin"
    ]
    for orphan in orphans:
        s3.put_object(Bucket=bucket, Key=orphan, Body=b"x")
    neighbour = f"{tree}x/not-in-the-tree.png"  # the same characters, but not under the tree's prefix
    s3.put_object(Bucket=bucket, Key=neighbour, Body=b"x")

    path = f"/sessions/{sid}/artifacts/{photo['artifact']['artifactId']}"
    answers = []
    while (answer := api.http("DELETE", path, user="alice")).status == 202:
        answers.append(answer.body)
        assert len(answers) < 10
    assert answer.status == 204
    assert sum(a["objectsDeleted"] for a in answers) >= 3 and all(a["objectsDeleted"] <= 2 for a in answers)
    assert sorted(bucket_keys(s3)) == sorted([other["artifact"]["objectKey"], neighbour])
    assert _tree(api, sid, photo["artifact"]["artifactId"]) == []


def _tree(api, sid: str, root_id: str) -> list[Artifact]:
    from session_schema.errors import ArtifactNotFound

    try:
        root = api.store.get_artifact(sid, root_id)
    except ArtifactNotFound:
        return []
    return [root, *api.store.subtree_below(root, at_most=100)]


@pytest.mark.parametrize("depth_name", ["x" * 200])
def test_a_chain_too_deep_for_an_s3_key_is_refused_on_file_name(api, depth_name):
    sid = api.create("alice")["sessionId"]
    parent = create_artifact(api, sid, fileName=f"{depth_name}.png")["artifact"]["artifactId"]
    for _ in range(40):
        answer = api.http(
            "POST", f"/sessions/{sid}/artifacts/{parent}/results", user="alice", body=PNG | {"fileName": "a.png"}
        )
        if answer.status != 201:
            break
        parent = answer.body["artifact"]["artifactId"]
    assert answer.status == 400 and answer.error["field"] == "fileName" and "1024" in answer.error["message"]
