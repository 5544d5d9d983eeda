"""Session routes: create, list one's own, read, change (status, title, muted), end."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.metrics import MetricUnit

from session_runtime import use_cases
from session_runtime.observability import logger, metrics
from session_runtime.runtime import get_runtime
from session_schema.errors import InvalidTransition, ValidationFailed
from session_schema.status import SessionStatus

from .identity import HttpCaller, current_caller, is_owner, owned_session, signed_in
from .params import DEFAULT_LIMIT, Cursor, IdempotencyKey, Limit, SessionIdPath, session_id
from .routing import answer_as, api_route
from .schemas import (
    CreateSessionRequest,
    SessionOwnerView,
    SessionPage,
    SessionPublicView,
    UpdateSessionRequest,
)

router = Router()
TAGS = ["sessions"]
REPLAY_HEADER = "Idempotent-Replayed"


@api_route(
    router,
    "POST /sessions",
    summary="Create a session",
    status=201,
    model=SessionOwnerView,
    errors=(415, 422),
    tags=TAGS,
    description=(
        "Creates a session owned by the caller and returns it with its shareable ID. With an "
        "`Idempotency-Key` header, repeating the request returns the same session (201, same body, "
        f"`{REPLAY_HEADER}: true`); the same key with a different body is 422 IDEMPOTENCY_KEY_REUSED."
    ),
)
def create_session(
    caller: Annotated[HttpCaller, Depends(signed_in)],
    body: CreateSessionRequest | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[SessionOwnerView]:
    runtime = get_runtime()
    settings = runtime.settings
    body = body or CreateSessionRequest()
    max_listeners = body.maxListeners
    if max_listeners is None:
        max_listeners = min(settings.default_max_listeners, settings.max_listeners_limit)
    elif max_listeners > settings.max_listeners_limit:
        raise ValidationFailed("maxListeners", f"must be between 1 and {settings.max_listeners_limit}")
    session, created = runtime.store.create_session(
        owner_id=caller.user_id,
        title=body.title if body.title is not None else "",
        source_language=body.sourceLanguage or "en",
        max_listeners=max_listeners,
        idempotency_key=idempotency_key,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        channels=body.channels or (),
        audiences=audiences_of(body),
    )
    logger.append_keys(sessionId=session.sessionId)
    if created:
        metrics.add_metric(name="SessionCreated", unit=MetricUnit.Count, value=1)
        logger.info("session created", extra={"maxListeners": max_listeners})
    else:
        logger.info("idempotent create replayed")
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=answer_as(SessionOwnerView, session.owner_view()),
        headers={REPLAY_HEADER: "false" if created else "true"},
    )


@api_route(router, "GET /sessions", summary="The caller's sessions, newest first", model=SessionPage, tags=TAGS)
def list_sessions(
    caller: Annotated[HttpCaller, Depends(signed_in)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> SessionPage:
    page = get_runtime().store.list_user_sessions(caller.user_id, limit=limit, cursor=cursor)
    return answer_as(SessionPage, {"items": [s.owner_view() for s in page.items], "nextCursor": page.next_cursor})


@api_route(
    router,
    "GET /sessions/{sessionId}",
    summary="A session: the public view, or the owner's view for its owner",
    model=SessionOwnerView | SessionPublicView,
    errors=(404,),
    tags=TAGS,
    description="Anyone may read the public view. With the owner's bearer token the answer is the owner's view.",
)
def get_session(
    sessionId: SessionIdPath,  # noqa: N803 - the path parameter's name
    caller: Annotated[HttpCaller | None, Depends(current_caller)],
) -> SessionOwnerView | SessionPublicView:
    session = get_runtime().store.get_session(session_id(sessionId), consistent=True)  # read-your-writes
    if is_owner(session, caller):
        return answer_as(SessionOwnerView, session.owner_view())
    return answer_as(SessionPublicView, session.public_view())


def audiences_of(body: CreateSessionRequest | UpdateSessionRequest) -> dict[str, str]:
    """The presence and reactions settings a create or update gives (who hears them)."""
    given = {"presence": body.presence, "reactions": body.reactions}
    return {name: value for name, value in given.items() if value is not None}


@api_route(
    router,
    "PATCH /sessions/{sessionId}",
    summary="Change a session's status, title or muted flag",
    model=SessionOwnerView,
    errors=(403, 404, 409, 410, 415),
    tags=TAGS,
    description=(
        "Owner only. `status` moves `active <-> paused` or to `ended` (409 INVALID_TRANSITION otherwise, "
        'naming both states); `title`/`muted` change a joinable session (410 once ended); `"title": null` '
        "clears the title (an empty or invisible-only title is refused). Every change is "
        "sent to connected clients as `sessionUpdated` (`sessionEnded`, then listeners disconnected, on end)."
    ),
)
def update_session(
    sessionId: SessionIdPath,  # noqa: N803
    body: UpdateSessionRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> SessionOwnerView:
    runtime = get_runtime()
    session = owned_session(sessionId, caller)
    sid = session.sessionId
    audiences = audiences_of(body)
    if audiences:
        session = runtime.store.set_audiences(sid, caller.user_id, audiences)
        if body.status is None and body.title_change is None and body.muted is None and body.channels is None:
            return answer_as(SessionOwnerView, session.owner_view())
    if body.status is not None:
        # One conditional write for the status and any title/muted with it: a refused move changes nothing.
        target = SessionStatus(body.status)
        before, after = use_cases.change_status(
            runtime, sid, target, runtime.fanout, title=body.title_change, muted=body.muted
        )
        logger.info("session status changed", extra={"from": before.status.value, "to": target.value})
    else:
        # asking for the `muted` it already has is no change: no one is told
        before, after = use_cases.update_session(
            runtime, sid, runtime.fanout, title=body.title_change, muted=body.muted, channels=body.channels
        )
    return answer_as(SessionOwnerView, after.owner_view())


@api_route(
    router,
    "DELETE /sessions/{sessionId}",
    summary="End a session",
    status=204,
    errors=(403, 404),
    tags=TAGS,
    description=(
        "Owner only. Ends the session; every connection gets `sessionUpdated` then `sessionEnded` and "
        "listeners are disconnected. Repeatable: ending an ended session is 204 again and changes nothing "
        "(no one is told twice)."
    ),
)
def end_session(
    sessionId: SessionIdPath,  # noqa: N803
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> None:
    runtime = get_runtime()
    session = owned_session(sessionId, caller)  # the one read of a repeated DELETE
    if session.status is not SessionStatus.ENDED:
        try:
            use_cases.change_status(runtime, session.sessionId, SessionStatus.ENDED, runtime.fanout)
            logger.info("session ended", extra={"from": session.status.value})
        except InvalidTransition:  # ended by someone else meanwhile, who told everyone: the same outcome
            logger.info("session already ended")
    return Response(status_code=204)  # type: ignore[return-value]  # Powertools: `-> None` documents "no body"
