"""An artifact's results, as a tree: where a result is, its parent's children newest first, and a subtree to
delete a bounded number at a time.

A root is `SESSION#<id>` / `ART#<artifactId>`; every result of its tree, at any depth, is
`ARC#<rootId>#<artifactId>` (docs/data-model.md), so a root's whole tree is one `begins_with` range. A result
is addressed by its own ID alone (`.../artifacts/{artifactId}`): it is looked for in the session's result range
when it is not a root (a filtered read of the session's results, which the product keeps to tens per session).
"""

from __future__ import annotations

from session_schema import codec, keys
from session_schema.errors import ArtifactNotFound
from session_schema.models import Artifact
from session_schema.storage import tree_prefix

from . import expressions as ex
from .dynamo import ListingSpec, Page, Table

_PARENT = ex.field(Artifact, "parentId")
_ARTIFACT_ID = ex.field(Artifact, "artifactId")
_SK = ex.key(keys.SK)
_PK = ex.key(keys.PK)


class ArtifactTree(Table):
    def get_artifact(self, session_id: str, artifact_id: str) -> Artifact:
        """A root, or a result of any tree of the session, by its ID: ArtifactNotFound when neither."""
        item = self._get_item(keys.artifact_key(session_id, artifact_id), consistent=True)
        if item is not None:
            return codec.decode_as(item, Artifact)
        found = self._query_all(
            Artifact,
            ConsistentRead=True,
            **ex.params(
                key_condition=_PK.eq(keys.SESSION_PREFIX + session_id) & _SK.begins_with(keys.ARC_PREFIX),
                filter_condition=_ARTIFACT_ID.eq(artifact_id),
            ),
        )
        for artifact in found:
            return artifact
        raise ArtifactNotFound(artifact_id)

    def list_results(self, parent: Artifact, *, limit: int, cursor: str | None) -> Page[Artifact]:
        """`parent`'s own results (not theirs), newest first (artifact IDs sort by time)."""
        root_id = parent.rootId or parent.artifactId
        spec = ListingSpec(None, keys.PK, keys.SK, keys.results_prefix(root_id))
        return self._page(
            spec,
            keys.SESSION_PREFIX + parent.sessionId,
            Artifact,
            limit=limit,
            cursor=cursor,
            newest_first=True,
            only=_PARENT.eq(parent.artifactId),
        )

    def subtree_below(self, artifact: Artifact, *, at_most: int) -> list[Artifact]:
        """Up to `at_most` results under `artifact` (at any depth; itself not included), deepest first, so a
        delete that stops after any of them leaves no result whose parent is gone."""
        root_id = artifact.rootId or artifact.artifactId
        below = tree_prefix(artifact.objectKey)
        found: list[Artifact] = []
        query = ex.params(
            key_condition=_PK.eq(keys.SESSION_PREFIX + artifact.sessionId)
            & _SK.begins_with(keys.results_prefix(root_id))
        )
        for result in self._query_all(Artifact, ConsistentRead=True, **query):
            if result.artifactId != artifact.artifactId and result.objectKey.startswith(below):
                found.append(result)
        found.sort(key=lambda result: result.objectKey.count("/"), reverse=True)
        return found[:at_most]

    def delete_artifacts(self, artifacts: list[Artifact]) -> None:
        """Delete these records (each one its own DeleteItem: a repeat after a crash deletes nothing twice)."""
        for artifact in artifacts:
            self.client.delete_item(TableName=self.table_name, Key=codec.serialize_key(codec.key_of(artifact)))
