"""Every use of Powertools' internals, in one place, written for the version requirements.txt pins.

Powertools has no public hook for what the HTTP API needs here: replacing the request-validation middleware
(to identify the caller before any input is judged, and to read only JSON bodies), listing the routes a
resolver serves (route-table checks and 405 answers), and its JSON encoder (the serializer, with NaN
refused). Each is a private attribute, a private method or an internal module, so an upgrade may move it:
tests/runtime/test_powertools_compat.py pins POWERTOOLS_VERSION to the installed and required version and
exercises each hook, so an upgrade that breaks one fails there, not in a handler.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Route
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.shared.json_encoder import Encoder as Encoder  # internal module: Decimal, pydantic

POWERTOOLS_VERSION = "3.37.0"


class RequestValidationMiddleware(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation with two public hooks: `before(app)` runs ahead of any validation,
    and `body(app)` is the request body validation sees (Powertools' private `_get_body`)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools' __init__ is unannotated (takes nothing)

    def before(self, app: Any) -> None:
        """Called with the resolver before the route's inputs are validated; raise to refuse the request."""

    def body(self, app: Any) -> Any:
        """The parsed body to validate; Powertools' own parsing unless overridden."""
        return super()._get_body(app)

    def handler(self, app: Any, next_middleware: Any) -> Any:
        self.before(app)
        return super().handler(app, next_middleware)

    def _get_body(self, app: Any) -> Any:
        return self.body(app)


def install_request_validation(resolver: ApiGatewayResolver, middleware: RequestValidationMiddleware) -> None:
    """Make `middleware` the validation every route of a resolver built with `enable_validation=True` runs
    (Powertools reads it from the resolver's `_request_validation_middleware` when it builds each route's chain)."""
    resolver._request_validation_middleware = middleware


def resolver_routes(resolver: ApiGatewayResolver) -> list[Route]:
    """Every route a resolver serves, routers included (Powertools keeps them in two private lists)."""
    return [*resolver._static_routes, *resolver._dynamic_routes]
