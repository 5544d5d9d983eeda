"""`GET /sessions/{sessionId}/events`: the session's stream for apps that poll (what `join {sinceSeq}` replays).

Who may read: the rule of the messages (anyone while joinable, the owner always). One session read and one
Query a page; `nextSinceSeq` continues a page that did not reach the end.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query

from session_runtime.runtime import get_runtime
from session_schema.errors import InvalidChannel
from session_schema.ids import EPOCH_PATTERN
from session_schema.models import CHANNEL_PATTERN, SEQ_MAX

from .identity import HttpCaller, current_caller, readable_session
from .params import DEFAULT_LIMIT, Limit, SessionIdPath
from .routing import answer_as, api_route
from .schemas import StreamPage

router = Router()

ChannelQuery = Annotated[
    str | None,
    Query(pattern=CHANNEL_PATTERN, description="read this channel's own stream (`sinceSeq` is then its seq)"),
]

SinceSeq = Annotated[int, Query(ge=0, le=SEQ_MAX, description="the last stream seq the caller saw (0: from the start)")]
Epoch = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=32,
        pattern=EPOCH_PATTERN,
        description="the session `epoch` that seq belongs to; omitted: the session's current epoch",
    ),
]


@api_route(
    router,
    "GET /sessions/{sessionId}/events",
    summary="The session's stream events after a seq (recovery for apps that poll)",
    model=StreamPage,
    errors=(404,),
    tags=["stream"],
    description=(
        "`recovered: true`: `items` are the kept stream events after `sinceSeq`, in seq order, exactly as they "
        "were pushed, and `missing` the seqs among them that will never come (skip them); ask again from "
        "`nextSinceSeq` until it is null. `recovered: false`: they cannot be "
        "replayed (another epoch, or older than the stream window): reset from `session`, whose `seq` is the "
        "new baseline. With `channel`, the same for that channel's own stream. Anyone may read while the "
        "session is joinable, its owner always."
    ),
)
def list_events(
    sessionId: SessionIdPath,  # noqa: N803
    caller: Annotated[HttpCaller | None, Depends(current_caller)],
    sinceSeq: SinceSeq = 0,  # noqa: N803 - the query parameter's name
    epoch: Epoch = None,
    limit: Limit = DEFAULT_LIMIT,
    channel: ChannelQuery = None,
) -> StreamPage:
    store = get_runtime().store
    session = readable_session(sessionId, caller)
    on_channel: dict[str, Any] = {}
    if channel is not None:
        if not session.declares(channel):
            raise InvalidChannel(channel, session.channels)
        on_channel = {"channel": channel, "channel_seq": store.read_channel_head(session.sessionId, channel)}
    recovery = store.recover(session, sinceSeq, epoch or session.epoch, limit=limit, **on_channel)
    page = {
        "recovered": recovery.recovered,
        "session": session.public_view(),
        "items": [json.loads(event.frame) for event in recovery.events],
        "nextSinceSeq": recovery.next_since_seq,
        "missing": recovery.missing,
    }
    return answer_as(StreamPage, page)
