"""Sharing an artifact with listeners: PATCH `shared`, what listeners are told, the shared listing for anyone,
and the download URL minted per request while the session is joinable."""

from __future__ import annotations

import requests

from tests.http.test_artifact_results import result
from tests.http.test_artifacts import clock, create_artifact, patch, upload
from tests.support.images import png

__all__ = ["clock"]  # the store clock fixture of the artifact tests


def test_a_shared_artifact_is_listed_and_downloadable_by_anyone_while_joinable(api, s3):
    sid = api.create("alice")["sessionId"]
    slide, hidden = create_artifact(api, sid, fileName="slide.png"), create_artifact(api, sid, fileName="notes.png")
    content = png(10, 10)
    assert upload(s3, slide["upload"], content)[0] == 204
    slide_id, hidden_id = slide["artifact"]["artifactId"], hidden["artifact"]["artifactId"]
    assert patch(api, sid, slide_id, shared=True).body["shared"] is True

    listed = api.http("GET", f"/sessions/{sid}/artifacts", query={"shared": "true"})  # anonymous
    assert listed.status == 200 and [a["artifactId"] for a in listed.body["items"]] == [slide_id]
    assert "objectKey" not in listed.body["items"][0]  # a listener's view: no storage path
    assert api.http("GET", f"/sessions/{sid}/artifacts").status == 401  # the whole listing is the owner's
    stranger = api.http("GET", f"/sessions/{sid}/artifacts", user="bob")
    assert stranger.status == 404 and stranger.error["code"] == "SESSION_NOT_FOUND"

    download = api.http("GET", f"/sessions/{sid}/artifacts/{slide_id}/download")
    assert download.status == 200 and download.body["expiresAt"] > 0
    assert requests.get(download.body["url"], timeout=10).content == content
    unshared = api.http("GET", f"/sessions/{sid}/artifacts/{hidden_id}/download")
    assert unshared.status == 404 and unshared.error["code"] == "ARTIFACT_NOT_FOUND"
    assert api.http("GET", f"/sessions/{sid}/artifacts/{hidden_id}/download", user="alice").status == 200

    assert patch(api, sid, slide_id, shared=False).body["shared"] is False
    assert api.http("GET", f"/sessions/{sid}/artifacts/{slide_id}/download").status == 404


def test_a_shared_result_is_listed_with_its_parent_and_downloadable_by_listeners_but_unshared_ones_are_not(
    api, s3, clock
):
    """A staging session: the raw photo stays private, its processed angle is shared. A listener finds the shared
    result in `?shared=true` (with `parentId`), downloads it, and learns nothing of the unshared results."""
    sid = api.create("alice")["sessionId"]
    photo = create_artifact(api, sid, fileName="room.png")["artifact"]["artifactId"]
    clock.tick(1000)  # artifact IDs sort by creation time
    slide = create_artifact(api, sid, fileName="slide.png")["artifact"]["artifactId"]
    clock.tick(1000)
    staged = result(api, sid, photo, fileName="staged.png")
    clock.tick(1000)
    draft = result(api, sid, photo, fileName="draft.png")["artifact"]["artifactId"]
    clock.tick(1000)
    angle = result(api, sid, staged["artifact"]["artifactId"], fileName="angle.png")["artifact"]["artifactId"]
    staged_id = staged["artifact"]["artifactId"]
    content = png(3, 2)
    assert upload(s3, staged["upload"], content)[0] == 204
    for shared_one in (staged_id, angle, slide):
        assert patch(api, sid, shared_one, shared=True).status == 200

    def shared_listing(**query: str) -> list[dict[str, object]]:
        answer = api.http("GET", f"/sessions/{sid}/artifacts", query={"shared": "true", **query})
        assert answer.status == 200, answer.raw_body
        return list(answer.body["items"])

    listed = shared_listing()
    # roots newest first, then the results of each tree (newest tree first), newest first
    assert [a["artifactId"] for a in listed] == [slide, angle, staged_id]
    assert [a.get("parentId") for a in listed] == [None, staged_id, photo]
    assert all("objectKey" not in a for a in listed)
    first = api.http("GET", f"/sessions/{sid}/artifacts", query={"shared": "true", "limit": "2"}).body
    rest = shared_listing(limit="2", cursor=first["nextCursor"])
    assert [a["artifactId"] for a in first["items"] + rest] == [slide, angle, staged_id]
    owners = api.http("GET", f"/sessions/{sid}/artifacts", user="alice").body["items"]
    assert [a["artifactId"] for a in owners] == [slide, photo]  # the plain listing: roots, results under each

    download = api.http("GET", f"/sessions/{sid}/artifacts/{staged_id}/download")
    assert download.status == 200 and requests.get(download.body["url"], timeout=10).content == content
    for private in (draft, photo):
        refused = api.http("GET", f"/sessions/{sid}/artifacts/{private}/download")
        assert refused.status == 404 and refused.error["code"] == "ARTIFACT_NOT_FOUND"
    for listener in (None, "bob"):  # a parent's results (shared or not) are listed to its owner only
        hidden = api.http("GET", f"/sessions/{sid}/artifacts/{photo}/results", user=listener)
        assert hidden.status in (401, 404), hidden.raw_body


def test_an_ended_sessions_shared_artifacts_are_its_owners_alone(api):
    sid = api.create("alice")["sessionId"]
    slide = create_artifact(api, sid)["artifact"]["artifactId"]
    assert patch(api, sid, slide, shared=True).status == 200
    assert api.http("DELETE", f"/sessions/{sid}", user="alice").status == 204
    gone = api.http("GET", f"/sessions/{sid}/artifacts/{slide}/download")
    assert gone.status == 404 and gone.error["code"] == "SESSION_NOT_FOUND"
    assert api.http("GET", f"/sessions/{sid}/artifacts", query={"shared": "true"}).status == 404
    assert api.http("GET", f"/sessions/{sid}/artifacts/{slide}/download", user="alice").status == 200


def test_a_patch_needs_a_status_or_sharing(api):
    sid = api.create("alice")["sessionId"]
    slide = create_artifact(api, sid)["artifact"]["artifactId"]
    empty = patch(api, sid, slide)
    assert empty.status == 400 and empty.error["code"] == "VALIDATION_ERROR"
    both = patch(api, sid, slide, status="processing", shared=True)
    assert both.status == 200 and (both.body["status"], both.body["shared"]) == ("processing", True)


def test_an_unshared_artifact_tells_listeners_only_its_id_and_status_and_the_kept_frame_is_that(api, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    api.listen(sid, "listener-1")
    slide = create_artifact(api, sid)["artifact"]["artifactId"]
    patch(api, sid, slide, status="failed", error="the renderer crashed on page 3")
    (told,) = management.sent["listener-1"]
    assert told["artifact"] == {"artifactId": slide, "status": "failed", "shared": False}
    (speaker,) = management.sent["speaker-1"]
    assert speaker["artifact"]["error"] == "the renderer crashed on page 3"
    replay = api.http("GET", f"/sessions/{sid}/events", query={"sinceSeq": "0"}).body
    assert [event["artifact"] for event in replay["items"]] == [told["artifact"]]  # no file name, no error text
