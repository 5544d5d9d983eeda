"""A session's artifacts, roots and results, are one sort-key range (`keys.ARTIFACTS_RANGE`, the shared listing):
no other item of the session partition sorts inside it."""

from __future__ import annotations

from hypothesis import given

from session_schema import codec, keys

from tests.support.strategies import artifact_chains

ARTIFACT_PREFIXES = {"ART_PREFIX", "ARC_PREFIX", "ARTIFACTS_PREFIX"}


def test_no_other_key_prefix_sorts_inside_the_artifacts_range() -> None:
    low, high = keys.ARTIFACTS_RANGE
    others = {
        name: value
        for name, value in vars(keys).items()
        if name.isupper() and isinstance(value, str) and name not in ARTIFACT_PREFIXES
    }
    inside = {name: value for name, value in others.items() if low <= value <= high or value.startswith("AR")}
    assert inside == {}


@given(artifact_chains(max_depth=3))
def test_every_artifact_key_root_or_result_is_inside_the_range(chain) -> None:
    low, high = keys.ARTIFACTS_RANGE
    for artifact in chain:
        sort_key = codec.key_of(artifact)[keys.SK]
        assert low <= sort_key <= high and sort_key.startswith(keys.ARTIFACTS_PREFIX)
