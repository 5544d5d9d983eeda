"""Registering routes from the route table, so a route's method, path and auth have one spelling.

`api_route(router, "PATCH /sessions/{sessionId}", ...)` looks the route up in
`session_schema.routes.HTTP_ROUTES` (a route key that is not in the table fails at import), registers it on a
Powertools `Router` with the table's path, documents its bearer security from the table's `auth` flag, and
documents its success and error answers with their models. Every route module (sessions, messages,
meta, and artifacts when it exists) registers through this, on its own `Router`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
from pydantic import BaseModel

from session_runtime.powertools_compat import resolver_routes
from session_schema.routes import OPTIONAL_AUTH_PATHS, HttpRoute, declared_route

from .schemas import ErrorResponse

BEARER_SCHEME = "bearerAuth"
SIGV4_SCHEME = "sigv4"  # the IAM routes: AWS Signature Version 4 (service execute-api), API Gateway's IAM authorizer
_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "VALIDATION_ERROR: an input is malformed; `field` names it",
    401: "UNAUTHORIZED: no valid bearer token",
    403: "FORBIDDEN: only the session's owner (or, on an IAM route, a granted producer) may do this",
    404: "SESSION_NOT_FOUND",
    409: "INVALID_TRANSITION: the status cannot move that way; `from` and `to` name both states",
    410: "SESSION_ENDED: the session has ended",
    415: "UNSUPPORTED_MEDIA_TYPE: the body must be application/json",
    422: "IDEMPOTENCY_KEY_REUSED: this Idempotency-Key came with a different body",
    429: "RATE_LIMITED: the table throttled this request; retry after `Retry-After` seconds",
    500: "INTERNAL_ERROR: nothing about the cause is disclosed",
    503: "SERVICE_UNAVAILABLE: the table (or storage) did not answer in time; retry after `Retry-After` seconds",
}
_PARAM = re.compile(r"\{(\w+)\}")

RouteFunction = TypeVar("RouteFunction", bound=Callable[..., Any])
Model = TypeVar("Model", bound=BaseModel)


def table_route(route_key: str) -> HttpRoute:
    method, _, path = route_key.partition(" ")
    route = declared_route(method, path)
    if route is None:
        raise LookupError(f"{route_key!r} is not in session_schema.routes.HTTP_ROUTES")
    return route


def powertools_rule(path: str) -> str:
    """`/sessions/{sessionId}` (API Gateway) -> `/sessions/<sessionId>` (Powertools)."""
    return _PARAM.sub(r"<\1>", path)


def table_path(rule: str) -> str:
    """`/sessions/<sessionId>` -> `/sessions/{sessionId}`."""
    return re.sub(r"<(\w+)>", r"{\1}", rule)


def security_for(route: HttpRoute) -> list[dict[str, list[str]]] | None:
    if route.auth_kind == "iam":
        return [{SIGV4_SCHEME: []}]
    if route.auth:
        return [{BEARER_SCHEME: []}]
    if route.path in OPTIONAL_AUTH_PATHS:
        return [{}, {BEARER_SCHEME: []}]  # anonymous, or a bearer token that must then be valid
    return None


def api_route(
    router: BaseRouter,
    route_key: str,
    *,
    summary: str,
    status: int = 200,
    model: Any = None,
    errors: Iterable[int] = (),
    description: str | None = None,
    tags: list[str] | None = None,
    other_responses: dict[int, tuple[str, Any]] | None = None,
    uses_table: bool = True,
) -> Callable[[RouteFunction], RouteFunction]:
    """Register a route of the table on `router` (a module's `Router` or the resolver), documented with its answers.

    `model` is the success body's model (None: no body, e.g. 204). `errors` are the error statuses this
    route can answer besides 400 and 500 (always possible); 401 is added for routes that read a token.
    `other_responses` documents non-error answers with their own bodies: {status: (description, model)}.
    `uses_table`: the route reads or writes DynamoDB, so it can be throttled (429) or find it not answering (503).
    """
    route = table_route(route_key)
    codes = {400, 500, *errors}
    if uses_table:
        codes |= {429, 503}
    if route.auth or route.path in OPTIONAL_AUTH_PATHS:
        codes.add(401)
    responses: dict[int, Any] = {
        code: {
            "description": _ERROR_DESCRIPTIONS.get(code, "error"),
            "content": {"application/json": {"model": ErrorResponse}},
        }
        for code in sorted(codes)
    }
    success: dict[str, Any] = {"description": summary}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    responses[status] = success
    for code, (text, other_model) in (other_responses or {}).items():
        responses[code] = {"description": text, "content": {"application/json": {"model": other_model}}}
    return router.route(
        powertools_rule(route.path),
        route.method,
        summary=summary,
        description=description,
        responses=responses,
        tags=tags,
        security=security_for(route),
        status_code=status,
        operation_id=route.operation_id or None,
    )


def answer_as(model: type[Model], view: Mapping[str, object]) -> Model:
    """A route's plain answer, typed as the response model Powertools checks it against.

    With validation on, Powertools validates what a route returns against the route's return annotation (the
    body of a `Response[M]` against `M`) and serializes the result; the routes return the records' plain views
    (`Session.owner_view()`, ...) and leave that one check to it. `model` names the annotation's model, so mypy
    holds the route to it; at run time nothing is converted: the view itself is returned.
    """
    return cast(Model, view)


def registered_routes(app: ApiGatewayResolver) -> set[tuple[str, str]]:
    """(method, path in table syntax) of every route the resolver serves."""
    return {(r.method.upper(), table_path(r.path)) for r in resolver_routes(app)}


def methods_for_path(app: ApiGatewayResolver, path: str) -> list[str]:
    """The methods the resolver serves on a concrete path (for 405 answers)."""
    return sorted({r.method.upper() for r in resolver_routes(app) if r.rule.match(path)})
