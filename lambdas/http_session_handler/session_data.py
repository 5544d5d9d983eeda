"""`DELETE /sessions/{sessionId}/data`: the owner deletes everything a session holds (session_runtime/session_purge.py),
a bounded number of items a request, like the subtree delete of an artifact (202: repeat for the rest)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from pydantic import Field

from session_runtime import session_purge
from session_runtime.observability import logger
from session_runtime.runtime import get_runtime

from .identity import HttpCaller, owned_session, signed_in
from .params import SessionIdPath
from .routing import answer_as, api_route
from .schemas import ResponseBody

router = Router()


class SessionDataDeletionUnderway(ResponseBody):
    """A data delete that removed part of a large session: repeat it to delete the rest (the session goes last)."""

    deleted: int = Field(description="items deleted by this request (with the stored objects of its artifacts)")


@api_route(
    router,
    "DELETE /sessions/{sessionId}/data",
    summary="Delete everything a session holds: its record, stream, messages, artifacts and their stored objects",
    status=204,
    errors=(403, 404),
    tags=["sessions"],
    other_responses={
        202: ("part of a large session was deleted: repeat the DELETE for the rest", SessionDataDeletionUnderway)
    },
    description=(
        "Owner only. A live session is ended first (everyone told `sessionEnded`, listeners closed). Then its "
        "items are deleted, stored objects before their artifacts' records, kept artifacts too, the session "
        f"record last: at most {session_purge.PURGE_BATCH} items a request, so a larger session answers 202 and "
        "the next DELETE continues. Once done the session is unknown (404). Connection and presence records "
        "expire by themselves within CONNECTION_TTL_SECONDS."
    ),
)
def delete_session_data(
    sessionId: SessionIdPath,  # noqa: N803
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> Response[SessionDataDeletionUnderway | None]:
    session = owned_session(sessionId, caller)
    step = session_purge.delete_session_data(get_runtime(), session)
    if not step.done:
        logger.info("session data partly deleted", extra={"deleted": step.deleted})
        body = answer_as(SessionDataDeletionUnderway, {"deleted": step.deleted})
        return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)
    logger.info("session data deleted", extra={"deleted": step.deleted})
    return Response(status_code=204)
