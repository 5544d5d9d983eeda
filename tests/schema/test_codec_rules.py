"""The derived-attribute rules the codec owns, applied by writes that do not read the item first: what they
leave stored is exactly what encoding the changed record gives (the speakerless index included)."""

from __future__ import annotations

from session_schema import codec
from session_schema.models import Session
from session_schema.status import JOINABLE, SessionStatus
from session_store import expressions as ex


def _apply(item: codec.Item, change: codec.Changes) -> codec.Item:
    kept = {name: value for name, value in item.items() if name not in change.remove}
    return {**kept, **change.set}


def _session(**fields: object) -> Session:
    base: dict[str, object] = dict(
        sessionId="quiet-river-482", ownerId="alice", maxListeners=5, epoch="e1", createdAt=1, updatedAt=1
    )
    return Session.model_validate(base | fields)


def test_a_speaker_leaving_starts_the_indexed_speakerless_clock_as_encoding_the_record_would() -> None:
    with_speaker = _session(speakerConnectionId="conn-1")
    after = _apply(codec.encode(with_speaker), codec.speaker_leaves(with_speaker.sessionId, 5_000))
    assert after == codec.encode(_session(speakerlessSince=5_000))
    assert "GSI2PK" in after  # the sweep finds it


def test_a_speaker_joining_clears_the_clock_and_its_index_as_encoding_the_record_would() -> None:
    speakerless = _session(speakerlessSince=5_000)
    after = _apply(codec.encode(speakerless), codec.speaker_joins(speakerless.sessionId, "conn-2", 5))
    assert after == codec.encode(_session(speakerConnectionId="conn-2", lastRegisteredAt=5))
    assert "GSI2PK" not in after


def test_the_joinable_condition_names_exactly_the_joinable_statuses() -> None:
    rendered = ex.params(condition=ex.JOINABLE)
    values = rendered["ExpressionAttributeValues"]
    assert rendered["ConditionExpression"] == f"#status IN ({', '.join(values)})"
    assert rendered["ExpressionAttributeNames"] == {"#status": "status"}
    assert {SessionStatus(v["S"]) for v in values.values()} == set(JOINABLE)
    assert all(_session(status=s).joinable == (s in JOINABLE) for s in SessionStatus)
