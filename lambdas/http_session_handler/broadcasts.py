"""Publishing over HTTP: the owner's `POST /sessions/{id}/broadcasts` and the producers' IAM twin
`POST /iam/sessions/{id}/broadcasts` (SigV4-signed, for roles the deployment granted: producers.py), with the
same body and answer. 1 to 25 events, each to a channel or to the whole session, published in order; the answer
gives each event's stream (`channel`, null for the session's) and its `seq` there.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends

from session_runtime.observability import logger
from session_runtime.publishing import Publication, publish_events
from session_runtime.runtime import get_runtime

from .broadcast_schemas import PublishAnswer, PublishRequest
from .identity import HttpCaller, owned_session, signed_in, signed_producer
from .params import SessionIdPath, session_id
from .producers import Producer
from .routing import answer_as, api_route

router = Router()
TAGS = ["broadcasts"]
_ERRORS = (403, 404, 409, 410, 415)
_REFUSALS = (
    " While the session is live only: a paused or muted one is 409 SESSION_PAUSED / SESSION_MUTED, an ended one 410"
    " SESSION_ENDED; a channel the session does not declare is 400 INVALID_CHANNEL naming `events[i].channel`."
)


def _publish(sid: str, body: PublishRequest) -> PublishAnswer:
    published = publish_events(get_runtime(), sid, [Publication(e.data, e.channel) for e in body.events])
    logger.info("published", extra={"events": len(published), "lastSeq": published[-1].seq})
    return answer_as(PublishAnswer, {"items": [item.view() for item in published]})


@api_route(
    router,
    "POST /sessions/{sessionId}/broadcasts",
    summary="Publish 1 to 25 events to a session (owner)",
    status=201,
    model=PublishAnswer,
    errors=_ERRORS,
    tags=TAGS,
    description="The session's owner, with a bearer token." + _REFUSALS,
)
def publish_broadcasts(
    sessionId: SessionIdPath,  # noqa: N803
    body: PublishRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> PublishAnswer:
    return _publish(owned_session(sessionId, caller).sessionId, body)


@api_route(
    router,
    "POST /iam/sessions/{sessionId}/broadcasts",
    summary="Publish 1 to 25 events to a session (AWS IAM producer)",
    status=201,
    model=PublishAnswer,
    errors=_ERRORS,
    tags=TAGS,
    description=(
        "For producers inside the AWS account: the request is signed with SigV4 (service `execute-api`) by a role"
        " the deployment granted (`-c publisherRoleArns`, `grant_publish`); API Gateway answers an unsigned or"
        ' wrongly signed request 403 `{"message": ...}`, the API a signer it does not grant 403 FORBIDDEN.'
        + _REFUSALS
    ),
)
def publish_broadcasts_signed(
    sessionId: SessionIdPath,  # noqa: N803
    body: PublishRequest,
    producer: Annotated[Producer, Depends(signed_producer)],
) -> PublishAnswer:
    logger.append_keys(producer=producer.principal_arn)
    return _publish(session_id(sessionId), body)
