"""Every writer's record is read back equal by every reader of it (the bug class this product ends)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_schema import keys
from session_schema.models import Artifact, Connection
from session_schema.storage import artifact_object_key

from tests.support.strategies import human_texts
from tests.support.stream_writes import append_message

_counter = itertools.count()

titles = human_texts(max_size=200)
languages = st.sampled_from(["en", "de", "pt-BR", "zh-Hans"])
message_texts = human_texts(min_size=1, max_size=300)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=titles,
    language=languages,
    max_listeners=st.integers(1, 10000),
    text=message_texts,
    role=st.sampled_from(["listener", "speaker"]),
)
def test_records_written_by_each_writer_read_back_equal_from_each_reader(
    store, title, language, max_listeners, text, role
):
    n = next(_counter)
    owner = f"owner-{n}"
    session, _ = store.create_session(
        owner_id=owner, title=title, source_language=language, max_listeners=max_listeners
    )
    readers = [
        store.get_session(session.sessionId),
        store.get_session(session.sessionId, consistent=True),
        *store.list_user_sessions(owner, limit=5, cursor=None).items,
    ]
    assert readers == [session] * 3

    connection = Connection(
        connectionId=f"conn{n}", sessionId=session.sessionId, role=role, userId=owner, connectedAt=n, expiresAt=n + 1
    )
    registered = store.register_connection(connection, owner_id=owner if role == "speaker" else None)
    # In the partition its ID hashes to; a keynote session's listener holds its seat on one of its seat shards.
    seated = session.seatShards > 0 and role == "listener"
    assert (registered.seat is not None) == seated
    partition = keys.connection_partition_of(connection.connectionId, session.connectionPartitions)
    assert registered == connection.model_copy(update={"partition": partition, "seat": registered.seat})
    connection = registered
    assert store.get_connection(connection.connectionId) == connection
    # Its session lists it compact: what only the lookup holds (who, since when) is not in the fan-out's reads.
    assert list(store.iter_connections(session.sessionId)) == [connection.entry()]
    # The fan-out's reader (a projection of the item) agrees on the two fields it reads.
    assert [(t.connectionId, t.role) for t in store.iter_connection_targets(session.sessionId)] == [
        (connection.connectionId, connection.role)
    ]

    message, after = append_message(store, session.sessionId, owner, text)
    # The session the message's write returned is the one stored (its listenerCount sizes the fan-out).
    assert after == store.get_session(session.sessionId, consistent=True) and after.seq == message.seq
    assert store.list_messages(session.sessionId, limit=5, cursor=None).items == [message]

    artifact_id = f"art_{n:026d}"
    artifact = Artifact(
        artifactId=artifact_id,
        sessionId=session.sessionId,
        ownerId=owner,
        kind="frames",
        contentType="image/png",
        fileName="f.png",
        objectKey=artifact_object_key(owner, session.sessionId, "frames", artifact_id, "f.png"),
        createdAt=n,
        updatedAt=n,
    )
    store.create_artifact(artifact)
    assert store.get_artifact(session.sessionId, artifact_id) == artifact
    assert store.list_artifacts(session.sessionId, limit=5, cursor=None).items == [artifact]
