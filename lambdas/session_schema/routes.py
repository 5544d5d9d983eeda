"""The route table of both APIs: the HTTP handler, the CDK stack and the local stack all read it, and the one
matcher of a request to its route (`match_route`, for the gateways that stand in for API Gateway).

A route added here appears in the deployed API, in the local stack and (by test) in the handler;
one that is missing from any of them fails a test instead of a user's request. Who may call an HTTP
route (`HttpRoute.auth`) is enforced by the HTTP handler (http_session_handler/identity.py); only the routes
whose `auth_kind` is "iam" have an API Gateway authorizer (AWS IAM: SigV4-signed producers in the account).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import unquote

# How a route's caller proves who it is. "token": a Cognito bearer token the handler verifies itself (no gateway
# authorizer: its fixed 401 body breaks the contract's error shape, infra/http_api.py). "iam": a SigV4-signed AWS
# principal, verified by API Gateway's IAM authorizer (deployed) or the local gateway (local/apigw/sigv4_check.py),
# which put the principal in `requestContext.authorizer.iam`; the handler then checks it is a granted publisher.
AuthKind = Literal["token", "iam"]


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str  # API Gateway syntax: /sessions/{sessionId}
    # True: a signed-in caller is required; the HTTP handler verifies the bearer token itself and answers
    # 401 UNAUTHORIZED without a valid one. False: anyone. No "token" route has an API Gateway authorizer in
    # either stack (infra/http_api.py says why), so this flag is enforced by the handler alone.
    auth: bool
    # The operation's name in /openapi.json (`operationId`): clients generated from the document call it so.
    # Every route of HTTP_ROUTES names one (tests/http/test_routes.py); "" only for stand-ins in tests.
    operation_id: str = ""
    # "iam": the gateway's AWS IAM authorizer runs in front of it (an unsigned request never reaches the handler).
    auth_kind: AuthKind = "token"

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


HTTP_ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute("POST", "/sessions", auth=True, operation_id="createSession"),
    HttpRoute("GET", "/sessions", auth=True, operation_id="listSessions"),
    HttpRoute("GET", "/sessions/{sessionId}", auth=False, operation_id="getSession"),
    HttpRoute("PATCH", "/sessions/{sessionId}", auth=True, operation_id="updateSession"),
    HttpRoute("DELETE", "/sessions/{sessionId}", auth=True, operation_id="endSession"),
    HttpRoute("DELETE", "/sessions/{sessionId}/data", auth=True, operation_id="deleteSessionData"),
    HttpRoute("GET", "/sessions/{sessionId}/messages", auth=False, operation_id="listMessages"),
    HttpRoute("POST", "/sessions/{sessionId}/messages", auth=True, operation_id="postMessage"),
    HttpRoute("GET", "/sessions/{sessionId}/events", auth=False, operation_id="listEvents"),
    HttpRoute("POST", "/sessions/{sessionId}/broadcasts", auth=True, operation_id="publishBroadcasts"),
    # The same publish for producers inside the AWS account, signed with SigV4 (one authorizer per HTTP API route,
    # so a twin path; `/iam/` names how it is authorized).
    HttpRoute(
        "POST",
        "/iam/sessions/{sessionId}/broadcasts",
        auth=True,
        operation_id="publishBroadcastsSigned",
        auth_kind="iam",
    ),
    HttpRoute("POST", "/sessions/{sessionId}/artifacts", auth=True, operation_id="createArtifact"),
    HttpRoute("GET", "/sessions/{sessionId}/artifacts", auth=False, operation_id="listArtifacts"),
    HttpRoute("PATCH", "/sessions/{sessionId}/artifacts/{artifactId}", auth=True, operation_id="updateArtifact"),
    HttpRoute("DELETE", "/sessions/{sessionId}/artifacts/{artifactId}", auth=True, operation_id="deleteArtifact"),
    HttpRoute("POST", "/sessions/{sessionId}/artifacts/{artifactId}/results", auth=True, operation_id="createResult"),
    HttpRoute("GET", "/sessions/{sessionId}/artifacts/{artifactId}/results", auth=True, operation_id="listResults"),
    HttpRoute(
        "GET", "/sessions/{sessionId}/artifacts/{artifactId}/download", auth=False, operation_id="downloadArtifact"
    ),
    HttpRoute("GET", "/health", auth=False, operation_id="getHealth"),
    HttpRoute("GET", "/openapi.json", auth=False, operation_id="getOpenApiDocument"),
    HttpRoute("GET", "/asyncapi.json", auth=False, operation_id="getAsyncApiDocument"),
    HttpRoute("GET", "/lifecycle-events.json", auth=False, operation_id="getLifecycleEventSchemas"),
)

_BY_KEY: dict[str, HttpRoute] = {route.route_key: route for route in HTTP_ROUTES}


def declared_route(method: str, path: str) -> HttpRoute | None:
    """The table's route for a method and a route path as declared (`/sessions/{sessionId}`: what API Gateway's
    routeKey and Powertools' `request.route` carry), None when the table has none."""
    return _BY_KEY.get(f"{method} {path}")


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]  # percent-decoded, as API Gateway passes them


_PARAM = re.compile(r"^\{([A-Za-z0-9_]+)(\+?)\}$")


def _route_pattern(path: str) -> tuple[re.Pattern[str], int, bool]:
    """A route path's regex, its number of parameters and whether one is greedy (`{proxy+}`)."""
    parts, names, greedy = [], 0, False
    for segment in path.strip("/").split("/") if path != "/" else []:
        param = _PARAM.match(segment)
        if param:
            names += 1
            greedy = greedy or bool(param.group(2))
            parts.append(f"(?P<{param.group(1)}>.+)" if param.group(2) else f"(?P<{param.group(1)}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$"), names, greedy


@lru_cache(maxsize=8)
def _by_specificity(routes: tuple[HttpRoute, ...]) -> tuple[tuple[HttpRoute, re.Pattern[str]], ...]:
    compiled = []
    for route in routes:
        pattern, names, greedy = _route_pattern(route.path)
        # API Gateway picks the most specific route: fewer parameters first, greedy ones last.
        compiled.append(((greedy, names, -len(route.path)), route, pattern))
    compiled.sort(key=lambda entry: entry[0])
    return tuple((route, pattern) for _, route, pattern in compiled)


def match_route(method: str, raw_path: str, routes: Iterable[HttpRoute] = HTTP_ROUTES) -> RouteMatch | None:
    """The route API Gateway would pick for a request (a concrete, still percent-encoded path), with its path
    parameters; None when no route matches (API Gateway's `$default`). A route's method `ANY` takes every method."""
    for route, pattern in _by_specificity(tuple(routes)):
        if route.method != method.upper() and route.method != "ANY":
            continue
        found = pattern.match(raw_path)
        if found:
            return RouteMatch(route, {name: unquote(value) for name, value in found.groupdict().items()})
    return None


# Routes marked auth=False that still read the caller's identity when a token is present (the owner
# sees more): the handler verifies the bearer token when one is sent (an invalid one is 401), and treats
# a request without an Authorization header as anonymous.
OPTIONAL_AUTH_PATHS: frozenset[str] = frozenset(
    {
        "/sessions/{sessionId}",
        "/sessions/{sessionId}/messages",
        "/sessions/{sessionId}/events",
        "/sessions/{sessionId}/artifacts",  # the owner's listing; `?shared=true` for anyone
        "/sessions/{sessionId}/artifacts/{artifactId}/download",  # the owner's always; a shared one for anyone
    }
)


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str
    returns_response: bool  # True: the handler's return value is sent back as the route response


# The deployed routes of the WebSocket API's actions, as names only: the CDK stack reads them without the handler
# code. Each action is declared once, on its frame model (session_protocol/frames.py: who may send it, its
# answers, its cost); tests/ws/test_protocol_registry.py checks this list is exactly the declared actions.
WS_ACTIONS: tuple[str, ...] = (
    "join",
    "subscribe",
    "ping",
    "broadcast",
    "sendMessage",
    "history",
    "pause",
    "resume",
    "mute",
    "unmute",
    "end",
    "presence",
    "setPresence",
    "react",
    "kick",
)

WS_ROUTE_SELECTION_EXPRESSION = "$request.body.action"
WS_ROUTES: tuple[WebSocketRoute, ...] = (
    WebSocketRoute("$connect", returns_response=False),
    WebSocketRoute("$disconnect", returns_response=False),
    # $default answers unknown actions and bad frames with an error, so it responds too.
    WebSocketRoute("$default", returns_response=True),
    *(WebSocketRoute(action, returns_response=True) for action in WS_ACTIONS),
)


# CORS of the HTTP API: the CDK stack configures API Gateway with these, the local stack answers with them.
# Bearer tokens, never cookies: any origin may call, and credentials are not "allowed".
HTTP_CORS_ALLOW_ORIGINS: tuple[str, ...] = ("*",)
HTTP_CORS_ALLOW_METHODS: tuple[str, ...] = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
HTTP_CORS_ALLOW_HEADERS: tuple[str, ...] = ("Authorization", "Content-Type", "Idempotency-Key")
HTTP_CORS_MAX_AGE_SECONDS = 3600
# Response headers a browser's fetch() may read (CORS hides all but a few simple ones otherwise): the request
# ID that error bodies carry, when to retry, the methods a path allows, the bearer challenge, a replayed create.
HTTP_CORS_EXPOSE_HEADERS: tuple[str, ...] = (
    "apigw-requestid",
    "Retry-After",
    "Allow",
    "WWW-Authenticate",
    "Idempotent-Replayed",
)
