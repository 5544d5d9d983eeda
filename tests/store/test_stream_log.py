"""The stream's one write: a publish numbers its events and keeps them in the same transaction, conditional on
the head it read. A write that fails keeps nothing and claims nothing; a lost race is handed the head it met;
and the transaction carries an idempotency token that a retry of the same request repeats."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from session_protocol import events
from session_runtime import stream
from session_schema import keys
from session_schema.errors import RateLimited, SessionNotFound
from session_store.store import SessionStore
from session_store.stream_log import StreamMoved

from tests.store.test_dynamodb_refusals import Interfering, cancelled, new_session
from tests.support.aws import TABLE_NAME
from tests.support.stream_writes import append_message, broadcast


def kept_seqs(store: SessionStore, session_id: str) -> list[int]:
    items = store.client.query(
        TableName=TABLE_NAME,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :evt)",
        ExpressionAttributeValues={":pk": {"S": f"SESSION#{session_id}"}, ":evt": {"S": keys.EVT_PREFIX}},
        ConsistentRead=True,
    )["Items"]
    return [int(item["seq"]["N"]) for item in items]


def test_a_failed_publish_keeps_nothing_and_claims_nothing(ddb):
    session = new_session(ddb)
    broadcast(SessionStore(TABLE_NAME, client=ddb), session.sessionId, 0)
    store = SessionStore(TABLE_NAME, client=Interfering(ddb, cancelled("None", "ThrottlingError", "None")))
    with pytest.raises(RateLimited):
        append_message(store, session.sessionId, "user-a", "hello")
    assert store.read_head(session.sessionId).seq == 1
    assert kept_seqs(store, session.sessionId) == [1]
    assert store.list_messages(session.sessionId, limit=10, cursor=None).items == []
    assert append_message(store, session.sessionId, "user-a", "again")[0].seq == 2
    assert kept_seqs(store, session.sessionId) == [1, 2]


def test_a_publish_that_dies_inside_its_write_leaves_the_head_and_the_stream_as_they_were(ddb):
    class Dying(Interfering):
        def transact_write_items(self, **kwargs):
            raise ConnectionError("the writer died before DynamoDB answered")

    session = new_session(ddb)
    store = SessionStore(TABLE_NAME, client=Dying(ddb))
    with pytest.raises(ConnectionError):
        broadcast(store, session.sessionId, 0)
    assert store.read_head(session.sessionId).seq == 0 and kept_seqs(store, session.sessionId) == []


def test_two_appends_from_one_head_keep_one_and_hand_the_other_the_head_it_met(ddb):
    store = SessionStore(TABLE_NAME, client=ddb)
    session = new_session(ddb)
    head = store.read_head(session.sessionId)
    change = store.broadcast_change(head)
    store.append(head, [events.broadcast("first", 1, 1)], change, token="first")
    with pytest.raises(StreamMoved) as moved:
        store.append(head, [events.broadcast("second", 1, 1)], change, token="second")
    assert moved.value.head.seq == 1
    assert kept_seqs(store, session.sessionId) == [1]


def test_events_must_carry_the_seqs_after_the_head(ddb):
    store = SessionStore(TABLE_NAME, client=ddb)
    head = store.read_head(new_session(ddb).sessionId)
    with pytest.raises(ValueError, match="from 1 on"):
        store.append(head, [events.broadcast("x", 1, 2)], store.broadcast_change(head), token="t")


def test_a_publish_to_no_session_is_not_found(ddb):
    with pytest.raises(SessionNotFound):
        broadcast(SessionStore(TABLE_NAME, client=ddb), "quiet-river-000")


def test_the_transaction_carries_one_token_per_publish_and_head_and_a_retry_repeats_it(ddb):
    tokens: list[str] = []

    class Recording(Interfering):
        def transact_write_items(self, **kwargs):
            tokens.append(kwargs.get("ClientRequestToken", ""))
            return super().transact_write_items(**kwargs)

    session = new_session(ddb)
    store = SessionStore(TABLE_NAME, client=Recording(ddb, cancelled("TransactionConflict", "None")))
    broadcast(store, session.sessionId, 0)  # met another transaction once: the same request again
    broadcast(store, session.sessionId, 1)
    assert len(tokens) == 3 and tokens[0] == tokens[1] != tokens[2]
    assert all(1 <= len(token) <= 36 for token in tokens)


def test_a_lost_race_drafts_again_from_the_head_it_met(ddb):
    store = SessionStore(TABLE_NAME, client=ddb)
    session = new_session(ddb)
    other = SessionStore(TABLE_NAME, client=ddb)
    raced = []

    def draft(head):
        if not raced:  # another publisher takes the next seq between this head read and this write
            raced.append(broadcast(other, session.sessionId, "other").seq)
        return stream.Draft([events.broadcast("mine", 1, head.seq + 1)], store.broadcast_change(head), None)

    written = stream.write(store, session.sessionId, draft)
    assert raced == [1] and written.attempts == 2 and written.after.seq == 2
    assert kept_seqs(store, session.sessionId) == [1, 2]


def test_a_condition_refusal_that_is_not_a_race_is_a_client_error_not_a_moved_head(ddb):
    """An event item already at the next seq (data older code wrote past the head) is never overwritten."""
    store = SessionStore(TABLE_NAME, client=ddb)
    session = new_session(ddb)
    store.client.put_item(
        TableName=TABLE_NAME,
        Item={**{k: {"S": v} for k, v in keys.stream_event_key(session.sessionId, 1).items()}, "seq": {"N": "1"}},
    )
    with pytest.raises(ClientError):
        broadcast(store, session.sessionId, 0)
    assert store.read_head(session.sessionId).seq == 0
