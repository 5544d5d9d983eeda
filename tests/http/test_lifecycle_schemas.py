"""`GET /lifecycle-events.json`: the JSON Schema of every detail-type, the very ones the events' tests check
every emitted event against (tests/support/stream_records.py)."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from session_schema.lifecycle import SOURCE, DetailType, detail_schemas


def test_the_published_document_has_a_valid_schema_per_detail_type(api):
    answer = api.http("GET", "/lifecycle-events.json")
    assert answer.status == 200
    assert answer.body == detail_schemas()
    assert answer.body["source"] == SOURCE
    schemas = answer.body["detailTypes"]
    assert set(schemas) == {t.value for t in DetailType}
    for detail_type, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert {"id", "sessionId", "ownerId", "at", "sequenceNumber"} <= set(schema["required"]), detail_type
