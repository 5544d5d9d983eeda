"""API Gateway for the local stack: the HTTP API (payload 2.0) and the WebSocket API, the `@connections`
management API the handlers call back, and the event shapes and rules of each.

Entry points for the rest of `local/` are `__all__`; the modules are this service's internals:
`http_gateway` / `ws_gateway` (the servers), `http_api_events` / `ws_api_events` (events and answers as
pure functions), `management` (the `@connections` rules) and `management_endpoint` (its server, on the
WebSocket gateway's loop), `common` (IDs and times both APIs write).
"""

from __future__ import annotations

from .http_api_events import RouteTable
from .http_gateway import ISSUER_PREFIX, GatewayConfig, HttpGateway
from .management import CONNECTIONS_PREFIX
from .management_endpoint import bind as bind_management_socket
from .ws_gateway import ConnectionRegistry, WsGateway

__all__ = [
    "CONNECTIONS_PREFIX",
    "ISSUER_PREFIX",
    "ConnectionRegistry",
    "GatewayConfig",
    "HttpGateway",
    "RouteTable",
    "WsGateway",
    "bind_management_socket",
]
