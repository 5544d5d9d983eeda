"""Sharing an artifact with listeners: PATCH `shared`, what listeners are told, the shared listing for anyone,
and the download URL minted per request while the session is joinable."""

from __future__ import annotations

import requests

from tests.http.test_artifacts import create_artifact, patch, upload
from tests.support.images import png


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
