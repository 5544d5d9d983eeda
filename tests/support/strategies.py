"""Hypothesis strategies for every record of the schema."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from session_schema.layout import MAX_CONNECTION_PARTITIONS, MAX_SEAT_SHARDS
from session_schema.models import INVISIBLE, Artifact, Connection, IdempotencyRecord, Message, Session
from session_schema.status import ArtifactStatus, SessionStatus
from session_schema.storage import artifact_object_key

ms = st.integers(min_value=0, max_value=10**13 - 1)
session_ids = st.from_regex(r"\A[a-z]{3,8}-[a-z]{3,8}-[0-9]{3}\Z")
user_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.@:\-]{0,40}\Z")
connection_ids = st.from_regex(r"\A[A-Za-z0-9_=+/\-]{1,40}\Z")
record_ids = lambda prefix: st.from_regex(rf"\A{prefix}_[0-9A-Z]{{26}}\Z")  # noqa: E731
texts = st.text(max_size=60)


def human_texts(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    """What the schema's Title / MessageText accept: no NUL, and "" or something visible."""
    chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")  # as st.text, minus NUL
    invisible_only = re.compile(f"[\\s{INVISIBLE}]+")
    return st.text(chars, min_size=min_size, max_size=max_size).filter(lambda t: not invisible_only.fullmatch(t))


@st.composite
def sessions(draw) -> Session:
    status = draw(st.sampled_from(SessionStatus))
    created = draw(ms)
    has_speaker = draw(st.booleans())
    return Session(
        sessionId=draw(session_ids),
        ownerId=draw(user_ids),
        title=draw(human_texts()),
        sourceLanguage=draw(st.sampled_from(["en", "de", "pt-BR", "zh-Hans"])),
        maxListeners=draw(st.integers(1, 10000)),
        status=status,
        muted=draw(st.booleans()),
        listenerCount=draw(st.integers(0, 10000)),
        seq=draw(st.integers(0, 10**9)),
        epoch=draw(st.from_regex(r"\A[A-Za-z0-9_-]{1,32}\Z")),
        speakerConnectionId=draw(connection_ids) if has_speaker else None,
        speakerlessSince=None if has_speaker else draw(st.none() | ms),
        createdAt=created,
        updatedAt=draw(ms),
        endedAt=draw(ms) if status is SessionStatus.ENDED else None,
        expiresAt=draw(st.integers(0, 2**40)) if status is SessionStatus.ENDED else None,
    )


_CONNECTION_FIELDS = {
    "connectionId": connection_ids,
    "sessionId": session_ids,
    "role": st.sampled_from(["speaker", "listener"]),
    "userId": st.none() | user_ids,
    "connectedAt": ms,
    "expiresAt": st.integers(0, 2**40),
}
connections = st.builds(Connection, **_CONNECTION_FIELDS)

messages = st.builds(
    Message,
    messageId=record_ids("msg"),
    sessionId=session_ids,
    senderId=user_ids,
    text=human_texts(min_size=1, max_size=200),
    createdAt=ms,
    expiresAt=st.none() | st.integers(0, 2**40),
)


@st.composite
def artifacts(draw) -> Artifact:
    owner, session_id = draw(user_ids), draw(session_ids)
    kind = draw(st.from_regex(r"\A[a-z][a-z0-9_-]{0,10}\Z"))
    artifact_id = draw(record_ids("art"))
    file_name = draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._\- ]{0,30}\Z"))
    status = draw(st.sampled_from(ArtifactStatus))
    return Artifact(
        artifactId=artifact_id,
        sessionId=session_id,
        ownerId=owner,
        kind=kind,
        contentType=draw(st.sampled_from(["image/jpeg", "image/png", "video/mp4", "audio/ogg"])),
        fileName=file_name,
        objectKey=artifact_object_key(owner, session_id, kind, artifact_id, file_name),
        status=status,
        error=draw(st.none() | texts) if status is ArtifactStatus.FAILED else None,
        createdAt=draw(ms),
        updatedAt=draw(ms),
        processingStartedAt=draw(st.none() | ms),
        completedAt=draw(st.none() | ms),
        processingMs=draw(st.none() | st.integers(0, 10**8)),
    )


def result_of(parent: Artifact, artifact_id: str, file_name: str, kind: str = "frames") -> Artifact:
    """A result of `parent`, placed as `use_cases.create_artifact` places one (its lineage and key from the parent)."""
    return Artifact(
        artifactId=artifact_id,
        sessionId=parent.sessionId,
        ownerId=parent.ownerId,
        kind=kind,
        contentType="image/png",
        fileName=file_name,
        objectKey=parent.result_object_key(artifact_id, file_name),
        createdAt=parent.createdAt,
        updatedAt=parent.createdAt,
        **parent.result_lineage(),
    )


@st.composite
def artifact_chains(draw, max_depth: int = 6) -> list[Artifact]:
    """A root and a chain of results below it (each the previous one's), of any depth up to `max_depth`."""
    chain = [draw(artifacts())]
    for _ in range(draw(st.integers(0, max_depth))):
        artifact_id = draw(record_ids("art").filter(lambda made: made not in {a.artifactId for a in chain}))
        file_name = draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._\- ]{0,30}\Z"))
        chain.append(result_of(chain[-1], artifact_id, file_name, draw(st.from_regex(r"\A[a-z][a-z0-9_-]{0,10}\Z"))))
    return chain


idempotency_records = st.builds(
    IdempotencyRecord,
    ownerId=user_ids,
    key=st.from_regex(r"\A[A-Za-z0-9_.:\-]{1,40}\Z"),
    sessionId=session_ids,
    requestHash=st.from_regex(r"\A[0-9a-f]{64}\Z"),
    createdAt=ms,
    expiresAt=st.integers(0, 2**40),
)

# A connection as registered today: in one of its session's partitions, maybe on a channel, maybe seated on a seat
# shard, maybe marked by a recovering join.
placed_connections = st.builds(
    Connection,
    **_CONNECTION_FIELDS,
    protocolVersion=st.integers(1, 9999),
    liveFromSeq=st.none() | st.integers(0, 2**53),
    heldUntil=st.none() | ms,
    channel=st.none() | st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,31}\Z"),
    partition=st.integers(0, MAX_CONNECTION_PARTITIONS - 1),
    seat=st.none() | st.integers(0, MAX_SEAT_SHARDS - 1),
)

any_record = st.one_of(
    sessions(), connections, messages, artifacts(), artifact_chains().map(lambda chain: chain[-1]), idempotency_records
)
