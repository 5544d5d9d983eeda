"""What real DynamoDB does that moto seldom shows: transaction conflicts, throttled parts, 1 MB pages.

A client wrapper injects DynamoDB's own error shapes in front of moto, so the store's answer to each is
checked: a conflict is retried (nothing was judged), a throttle is RATE_LIMITED (never a 500), and a page
that DynamoDB cut at 1 MB still carries a cursor to the rest.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from session_schema.cursor import encode_cursor
from session_schema.errors import ConcurrentUpdate, InvalidCursor, RateLimited
from session_schema.models import MESSAGE_TEXT_MAX, Connection
from session_store.store import SessionStore

from tests.support.aws import TABLE_NAME, fixed_cursor_seal
from tests.support.stream_writes import append_message
from tests.support.throttles import cancelled


class Interfering:
    """The moto client, except that the next transactions fail with the given errors first."""

    def __init__(self, client, *failures: ClientError) -> None:
        self._client = client
        self.failures = list(failures)
        self.transactions = 0

    def transact_write_items(self, **kwargs):
        self.transactions += 1
        if self.failures:
            raise self.failures.pop(0)
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def new_session(ddb, max_listeners: int = 10):
    return SessionStore(TABLE_NAME, client=ddb).create_session(
        owner_id="user-a", title="T", source_language="en", max_listeners=max_listeners
    )[0]


def listener(session, conn_id: str) -> Connection:
    return Connection(connectionId=conn_id, sessionId=session.sessionId, role="listener", connectedAt=1, expiresAt=2)


def test_a_join_that_met_another_transaction_is_retried_and_counted_once(ddb):
    session = new_session(ddb)
    client = Interfering(
        ddb, cancelled("TransactionConflict", "None", "None"), cancelled("None", "TransactionConflict", "None")
    )
    store = SessionStore(TABLE_NAME, client=client)
    store.register_connection(listener(session, "conn-1"))
    assert client.transactions == 3
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 1


def test_a_leave_that_met_another_transaction_is_retried(ddb):
    session = new_session(ddb)
    SessionStore(TABLE_NAME, client=ddb).register_connection(listener(session, "conn-1"))
    store = SessionStore(TABLE_NAME, client=Interfering(ddb, cancelled("None", "None", "TransactionConflict")))
    assert store.unregister_connection("conn-1") is not None
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 0  # the count never drifts up


def test_endless_conflicts_end_in_a_retryable_409_not_a_500(ddb):
    session = new_session(ddb)
    store = SessionStore(TABLE_NAME, client=Interfering(ddb, *[cancelled("TransactionConflict", "None", "None")] * 10))
    with pytest.raises(ConcurrentUpdate) as refused:
        store.register_connection(listener(session, "conn-1"))
    assert (refused.value.code, refused.value.status) == ("CONFLICT", 409)
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 0


def test_a_throttled_transaction_is_rate_limited(ddb):
    session = new_session(ddb)
    store = SessionStore(TABLE_NAME, client=Interfering(ddb, cancelled("ThrottlingError", "None", "None")))
    with pytest.raises(RateLimited) as refused:  # the message and its stream event: one transaction
        append_message(store, session.sessionId, "user-a", "hello")
    assert (refused.value.code, refused.value.status) == ("RATE_LIMITED", 429)


def test_a_condition_failure_is_still_a_refusal_and_never_retried(ddb):
    from session_schema.errors import SessionFull

    session = new_session(ddb, max_listeners=1)
    client = Interfering(ddb)
    store = SessionStore(TABLE_NAME, client=client)
    store.register_connection(listener(session, "conn-1"))
    with pytest.raises(SessionFull):
        store.register_connection(listener(session, "conn-2"))
    assert client.transactions == 2


def test_a_page_cut_at_one_megabyte_still_leads_to_every_message(ddb):
    """DynamoDB returns at most 1 MB per Query: 101 messages of 16 KB come back in pages of ~64."""
    store = SessionStore(TABLE_NAME, client=ddb, cursor_seal=fixed_cursor_seal())
    session = new_session(ddb)
    text = "\U0001f600" * MESSAGE_TEXT_MAX  # 4 bytes a character: 16 KB a message
    for _ in range(101):
        append_message(store, session.sessionId, "user-a", text)
    seen, cursor, pages = [], None, 0
    while True:
        page = store.list_messages(session.sessionId, limit=100, cursor=cursor)
        seen += [m.messageId for m in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 101 and pages >= 2


def test_a_cursor_outside_the_listings_range_or_too_long_is_refused(ddb):
    store = SessionStore(TABLE_NAME, client=ddb, cursor_seal=fixed_cursor_seal())
    session = new_session(ddb)
    for text in ("one", "two", "three"):
        append_message(store, session.sessionId, "user-a", text)
    first = store.list_messages(session.sessionId, limit=1, cursor=None)
    cursor = first.next_cursor
    assert cursor is not None
    later = first.items[0].createdAt + 10**9
    with pytest.raises(InvalidCursor):  # valid for `since=0`, below the range of `since=later`
        store.list_messages(session.sessionId, since=later, limit=1, cursor=cursor)
    pk = f"SESSION#{session.sessionId}"
    # In range and under 1,024 characters, but 1,038 bytes (sealed with the store's own key: only the bound refuses).
    key = {"PK": pk, "SK": "MSG#1700000000000#" + "\u00e9" * 510}
    too_long = encode_cursor(store.cursor_seal, key, partition=("PK", pk), sort_prefix=("SK", "MSG#"))
    with pytest.raises(InvalidCursor):
        store.list_messages(session.sessionId, limit=1, cursor=too_long)
