"""store.ping(): one cheap read that answers while the table does and raises when it does not."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from session_store.store import SessionStore

from tests.support.aws import TABLE_NAME


def test_ping_answers_without_reading_or_writing_any_record(store, ddb):
    assert store.ping() is None
    assert ddb.scan(TableName=TABLE_NAME, Select="COUNT")["Count"] == 0


def test_ping_raises_when_the_table_does_not_answer(ddb):
    with pytest.raises(ClientError):
        SessionStore("no-such-table", client=ddb).ping()
