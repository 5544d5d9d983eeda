"""Who is calling, decided by the route table (`session_schema.routes`), never by each route on its own.

No API Gateway authorizer runs in front of this function (infra/http_api.py): the handler verifies every
bearer token itself with the shared verifier (`session_runtime.auth.TokenVerifier`: signature, `iss`,
`aud`/`client_id`, `exp`, `token_use`, `sub`), so every refusal is the contract's 401 UNAUTHORIZED with
a requestId, never the gateway's fixed `{"message": "Unauthorized"}`.

- a route with `auth=True`: the `Authorization: Bearer` header must verify; its `sub` is the caller.
  Missing, malformed, expired or forged: 401 UNAUTHORIZED.
- a path in `OPTIONAL_AUTH_PATHS`: anonymous without an `Authorization` header; with one, it must verify
  (a present but invalid token is 401, not silently anonymous).
- a route with `auth_kind="iam"` (the twin publish route): API Gateway's IAM authorizer verified the SigV4
  signature; its signer (`requestContext.authorizer.iam`) must be a granted publisher, else 403
  (producers.py). No bearer token is read there.
- any other route: anonymous.

Only the verified token counts. `requestContext.authorizer` is read on the IAM route only: elsewhere no
authorizer is configured, nothing trustworthy puts claims there, and a handler that trusted them would accept
whatever an event (a test, a misconfigured integration) carried.

The caller is decided once per request, before any input is validated (validation.py calls
`identify`), and route functions receive it as a Powertools dependency:
`caller: Annotated[HttpCaller | None, Depends(current_caller)]` (or `Depends(signed_in)` where one is required).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.event_handler import Request

from session_runtime.runtime import get_runtime
from session_schema.errors import Forbidden, SessionNotFound, Unauthorized
from session_schema.models import Session
from session_schema.routes import OPTIONAL_AUTH_PATHS, declared_route

from .producers import Producer, producer_of, require_granted


@dataclass(frozen=True)
class HttpCaller:
    user_id: str


_CALLER = "caller"
_PRODUCER = "producer"


def identify(request: Request) -> HttpCaller | None:
    """Decide the caller once per request (request validation calls this first), cached in its context. On the
    IAM route the caller is a producer (`signed_producer`), decided and authorized here too."""
    if _CALLER not in request.context:
        route = declared_route(request.method, request.route)
        if route is not None and route.auth_kind == "iam":
            producer = producer_of(request.resolved_event.raw_event)
            request.context[_PRODUCER] = require_granted(producer, get_runtime().settings.publisher_roles)
            request.context[_CALLER] = None
        else:
            request.context[_CALLER] = _decide(request)
    caller: HttpCaller | None = request.context[_CALLER]  # the context is a dict[str, Any]; only _decide writes it
    return caller


def current_caller(request: Request) -> HttpCaller | None:
    """The verified caller of this request, or None for an anonymous one where the route allows it."""
    return identify(request)


def _decide(request: Request) -> HttpCaller | None:
    route = declared_route(request.method, request.route)
    event = request.resolved_event
    header = event.headers.get("authorization") if event.headers else None
    if route is None:
        return None
    if route.auth or (route.path in OPTIONAL_AUTH_PATHS and header is not None):
        return HttpCaller(get_runtime().verifier.verify_bearer_header(header).user_id)
    return None


def signed_producer(request: Request) -> Producer:
    """The granted producer of a request on the IAM route (401 off it: no signer is ever read there)."""
    identify(request)
    producer: Producer | None = request.context.get(_PRODUCER)
    if producer is None:
        raise Unauthorized("sign this request with AWS SigV4")
    return producer


def signed_in(request: Request) -> HttpCaller:
    """For routes that need a caller whatever the table says (defence in depth): 401 without one."""
    caller = current_caller(request)
    if caller is None:
        raise Unauthorized("sign in to do this")
    return caller


def require_owner(session: Session, caller: HttpCaller | None) -> HttpCaller:
    """Writes to another user's session are FORBIDDEN (the contract); anonymous callers are UNAUTHORIZED."""
    if caller is None:
        raise Unauthorized("sign in to do this")
    if session.ownerId != caller.user_id:
        raise Forbidden(f"only the owner of session {session.sessionId} can do this")
    return caller


def owned_session(raw_session_id: str, caller: HttpCaller | None) -> Session:
    """The caller's session for a write (read strongly consistent): 404 SESSION_NOT_FOUND when unknown,
    403 FORBIDDEN when someone else's, 401 when anonymous."""
    from .params import session_id

    session = get_runtime().store.get_session(session_id(raw_session_id), consistent=True)
    require_owner(session, caller)
    return session


def readable_session(
    raw_session_id: str, caller: HttpCaller | None, *, owner_only: bool = False, consistent: bool = True
) -> Session:
    """A session the caller may read from: its owner always; anyone while joinable (`messages_readable_by`)
    unless `owner_only`. Otherwise 404 SESSION_NOT_FOUND: a private view is indistinguishable from none."""
    from .params import session_id

    sid = session_id(raw_session_id)
    session = get_runtime().store.get_session(sid, consistent=consistent)
    user_id = caller.user_id if caller else None
    if not (is_owner(session, caller) if owner_only else session.messages_readable_by(user_id)):
        raise SessionNotFound(sid)
    return session


def is_owner(session: Session, caller: HttpCaller | None) -> bool:
    return caller is not None and session.ownerId == caller.user_id
