"""A result's object key is exactly the one storage derives from its root: `<ownerId>/<sessionId>/<root kind>/
<rootId>/.../<parentId>/<artifactId>/<fileName>`. The record validator accepts that key and nothing else (no
made-up ancestor, no other kind segment, nothing over S3's 1,024 bytes); results written before records carried
their lineage are still read."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from pydantic import ValidationError

from session_schema import codec
from session_schema.errors import CorruptRecord
from session_schema.models import Artifact
from session_schema.storage import OBJECT_KEY_MAX_BYTES, tree_prefix

from tests.support.strategies import artifact_chains, result_of

ROOT = Artifact(
    artifactId="art_01J0000000000000000000000A",
    sessionId="quiet-river-482",
    ownerId="user-a",
    kind="image",
    contentType="image/png",
    fileName="room.png",
    objectKey="user-a/quiet-river-482/image/art_01J0000000000000000000000A/room.png",
    createdAt=1,
    updatedAt=1,
)
STAGED = result_of(ROOT, "art_01J0000000000000000000000B", "staged.png")
EDIT = result_of(STAGED, "art_01J0000000000000000000000C", "edit.png")
MADE_UP = "art_01J0000000000000000000000Z"


@given(artifact_chains())
def test_every_derived_key_of_any_depth_is_the_roots_path_and_validates(chain: list[Artifact]) -> None:
    root = chain[0]
    for depth, result in enumerate(chain[1:], start=1):
        ids = [ancestor.artifactId for ancestor in chain[: depth + 1]]
        assert result.objectKey == "/".join([root.ownerId, root.sessionId, root.kind, *ids, result.fileName])
        assert result.objectKey.startswith(tree_prefix(chain[depth - 1].objectKey))
        assert Artifact.model_validate(result.model_dump()) == result
        assert codec.decode(codec.encode(result)) == result


def _with(result: Artifact, **changes: Any) -> dict[str, Any]:
    return result.model_dump() | changes


@pytest.mark.parametrize(
    "changes",
    [
        # an intermediate ancestor that is not the parent's: the key of some other tree branch
        {"objectKey": EDIT.objectKey.replace(STAGED.artifactId, MADE_UP)},
        # an extra ancestor in the key only
        {"objectKey": EDIT.objectKey.replace(f"/{STAGED.artifactId}/", f"/{STAGED.artifactId}/{MADE_UP}/")},
        # the kind segment of the result's own kind, or any other, instead of its root's
        {"objectKey": EDIT.objectKey.replace("/image/", "/frames/")},
        {"rootKind": "frames"},
        # a lineage that does not run from its root down to its parent
        {"ancestorIds": (ROOT.artifactId,)},
        {"ancestorIds": (MADE_UP, STAGED.artifactId)},
        {"ancestorIds": (ROOT.artifactId, STAGED.artifactId, EDIT.artifactId)},
        {"rootKind": None},
        {"ancestorIds": None},
        {"rootId": None},
    ],
    ids=[
        "bogus-ancestor",
        "extra-ancestor",
        "other-kind-in-key",
        "other-root-kind",
        "lineage-without-parent",
        "lineage-from-another-root",
        "lineage-with-itself",
        "no-root-kind",
        "no-ancestors",
        "no-root",
    ],
)
def test_a_result_whose_key_is_not_exactly_the_derived_one_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Artifact.model_validate(_with(EDIT, **changes))


def test_a_root_carries_no_lineage() -> None:
    with pytest.raises(ValidationError):
        Artifact.model_validate(_with(ROOT, rootKind="image"))
    with pytest.raises(ValidationError):
        Artifact.model_validate(_with(ROOT, ancestorIds=(ROOT.artifactId,)))


def test_a_derived_key_over_s3s_1024_bytes_is_refused() -> None:
    long_name = "x" * 200 + ".png"
    long_key = ROOT.objectKey.replace("room.png", long_name)
    chain = [Artifact.model_validate(_with(ROOT, fileName=long_name, objectKey=long_key))]
    for n in range(40):
        artifact_id = f"art_01J{n:023d}"
        if len(chain[-1].result_object_key(artifact_id, "a.png").encode()) > OBJECT_KEY_MAX_BYTES:
            break
        chain.append(result_of(chain[-1], artifact_id, "a.png"))
    too_long = chain[-1].result_object_key("art_01J9999999999999999999999Z", "a.png")
    assert len(too_long.encode()) > OBJECT_KEY_MAX_BYTES
    with pytest.raises(ValidationError, match="1024"):
        result_of(chain[-1], "art_01J9999999999999999999999Z", "a.png")


def _legacy_item(result: Artifact) -> dict[str, Any]:
    """The item code before lineages wrote for `result`: no `rootKind`, no `ancestorIds`."""
    document = codec.to_document(result)
    del document["rootKind"], document["ancestorIds"]
    return codec.serialize(document)


def test_a_result_written_before_lineages_is_read_with_the_lineage_its_key_spells() -> None:
    item = _legacy_item(EDIT)
    assert codec.decode(item) == EDIT
    assert not codec.is_canonical(item)  # the migration rewrites it with its lineage
    assert codec.is_canonical(codec.canonical_item(item))


def test_a_legacy_result_whose_key_is_not_under_its_root_and_parent_is_corrupt() -> None:
    elsewhere = EDIT.objectKey.replace(ROOT.artifactId, MADE_UP)
    item = _legacy_item(EDIT) | {"objectKey": {"S": elsewhere}}
    with pytest.raises(CorruptRecord):
        codec.decode(item)
