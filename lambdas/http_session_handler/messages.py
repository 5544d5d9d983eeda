"""Message routes: read a session's messages, post one as its owner.

Who may read: anyone while the session is joinable (listeners catch up with it), the owner always.
Once a session has ended its conversation is the owner's record, a private view: anyone else (anonymous
or another signed-in user) gets 404 SESSION_NOT_FOUND, as for an unknown session, while the public view
of the session itself stays readable.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends

from session_runtime import use_cases
from session_runtime.observability import logger
from session_runtime.runtime import get_runtime

from .identity import HttpCaller, current_caller, owned_session, readable_session, signed_in
from .params import DEFAULT_LIMIT, Cursor, Limit, SessionIdPath, Since
from .routing import answer_as, api_route
from .schemas import MessagePage, MessageView, PostMessageRequest

router = Router()
TAGS = ["messages"]


@api_route(
    router,
    "GET /sessions/{sessionId}/messages",
    summary="A session's messages, oldest first",
    model=MessagePage,
    errors=(404,),
    tags=TAGS,
    description=__doc__,
)
def list_messages(
    sessionId: SessionIdPath,  # noqa: N803
    caller: Annotated[HttpCaller | None, Depends(current_caller)],
    since: Since = 0,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> MessagePage:
    sid = readable_session(sessionId, caller, consistent=False).sessionId
    page = get_runtime().store.list_messages(sid, since=since, limit=limit, cursor=cursor)
    return answer_as(MessagePage, {"items": [m.view() for m in page.items], "nextCursor": page.next_cursor})


@api_route(
    router,
    "POST /sessions/{sessionId}/messages",
    summary="Post a message to a session",
    status=201,
    model=MessageView,
    errors=(403, 404, 410, 415),
    tags=TAGS,
    description="Owner only. The message is stored first, then sent to every connection as `message`.",
)
def post_message(
    sessionId: SessionIdPath,  # noqa: N803
    body: PostMessageRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> MessageView:
    runtime = get_runtime()
    sid = owned_session(sessionId, caller).sessionId
    message = use_cases.post_message(runtime, sid, caller.user_id, body.text, runtime.fanout)
    logger.info("message stored", extra={"messageId": message.messageId})
    return answer_as(MessageView, message.view())
