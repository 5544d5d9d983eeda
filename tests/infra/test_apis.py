"""The deployed APIs expose exactly the route table the handlers and the local stack use."""

from __future__ import annotations

import json

import pytest

from session_schema.routes import (
    HTTP_CORS_ALLOW_HEADERS,
    HTTP_CORS_ALLOW_METHODS,
    HTTP_CORS_ALLOW_ORIGINS,
    HTTP_CORS_EXPOSE_HEADERS,
    HTTP_CORS_MAX_AGE_SECONDS,
    HTTP_ROUTES,
    WS_ROUTE_SELECTION_EXPRESSION,
    WS_ROUTES,
)

from infra.functions import CONNECTION_FUNCTION, HTTP_FUNCTION
from infra.nag import flatten
from tests.support.cfn_expr import get_att, ref


def _routes_of(synth, api) -> dict[str, dict]:
    api_ref = ref(synth.logical_id(api))
    routes = {}
    for logical_id, resource in synth.resources("AWS::ApiGatewayV2::Route").items():
        props = resource["Properties"]
        if props["ApiId"] == api_ref:
            assert props["RouteKey"] not in routes, f"duplicate route {props['RouteKey']}"
            routes[props["RouteKey"]] = {"id": logical_id, **props}
    return routes


def _integration_target(synth, route: dict) -> dict:
    target = flatten(route["Target"])
    assert target.startswith("integrations/<") and target.endswith(">"), target
    return synth.template["Resources"][target[len("integrations/<") : -1]]["Properties"]


def test_every_http_route_exists_and_none_has_an_authorizer(dev):
    """API Gateway's JWT authorizer answers a bad token with its own fixed `{"message": "Unauthorized"}`
    (not customizable on HTTP APIs), so no route has one: the function verifies every token itself."""
    routes = _routes_of(dev, dev.stack.http.api)
    assert set(routes) == {route.route_key for route in HTTP_ROUTES}
    for route_key, deployed in routes.items():
        assert deployed["AuthorizationType"] == "NONE", route_key
        assert "AuthorizerId" not in deployed and "AuthorizationScopes" not in deployed, route_key
    assert dev.resources("AWS::ApiGatewayV2::Authorizer") == {}


# The HTTP routes of the product contract (../shared/contract.md, "HTTP API"), written out by hand from it
# rather than read from session_schema.routes.HTTP_ROUTES (which the stack and the handler are built from),
# so a route or its `auth` changed in that table alone shows up here. No route has a gateway authorizer
# (above): "signed in" routes are refused by the handler without a valid bearer token (it then checks
# ownership for the owner routes); "anyone" routes need no token (GET messages is "anyone while joinable,
# owner always": the handler reads an optional token itself).
SIGNED_IN, ANYONE = "signed in", "anyone"
CONTRACT_HTTP_ROUTES: dict[str, str] = {
    "POST /sessions": SIGNED_IN,
    "GET /sessions": SIGNED_IN,
    "GET /sessions/{sessionId}": ANYONE,
    "PATCH /sessions/{sessionId}": SIGNED_IN,  # owner
    "DELETE /sessions/{sessionId}": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/messages": ANYONE,
    "POST /sessions/{sessionId}/messages": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/events": ANYONE,  # the stream (the owner always, anyone while joinable)
    "POST /sessions/{sessionId}/artifacts": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/artifacts": SIGNED_IN,  # owner
    "PATCH /sessions/{sessionId}/artifacts/{artifactId}": SIGNED_IN,  # owner
    "DELETE /sessions/{sessionId}/artifacts/{artifactId}": SIGNED_IN,  # owner
    "GET /health": ANYONE,
    "GET /openapi.json": ANYONE,
    "GET /asyncapi.json": ANYONE,  # "Clients and documents": the WebSocket API's AsyncAPI document
    "GET /lifecycle-events.json": ANYONE,  # "Lifecycle events": a JSON Schema per detail-type, with the documents
}


def test_http_routes_are_the_contract_s_and_the_table_marks_who_may_call(dev):
    assert set(_routes_of(dev, dev.stack.http.api)) == set(CONTRACT_HTTP_ROUTES)
    assert {r.route_key: SIGNED_IN if r.auth else ANYONE for r in HTTP_ROUTES} == CONTRACT_HTTP_ROUTES


@pytest.mark.parametrize("route_key", sorted(CONTRACT_HTTP_ROUTES))
def test_signed_in_routes_still_need_a_token_end_to_end(handlers, route_key):
    """What the deployed route delivers (a v2 event, no authorizer) to the real handler: a signed-in route
    without a token is the contract's 401 UNAUTHORIZED; an "anyone" route answers without one."""
    session_id = handlers.create("owner-1")["sessionId"]
    method, path = route_key.split(" ", 1)
    concrete = path.replace("{sessionId}", session_id).replace("{artifactId}", "art_01JABCDEFGHJKMNPQRSTVWXYZ0")
    answer = handlers.http(method, concrete, body={} if method in ("POST", "PATCH") else None)
    if CONTRACT_HTTP_ROUTES[route_key] == SIGNED_IN:
        assert answer.status == 401, answer.raw_body
        assert answer.error["code"] == "UNAUTHORIZED" and answer.error["message"] and answer.error["requestId"]
    else:
        assert answer.status == 200, answer.raw_body


def test_the_function_verifies_tokens_of_the_cognito_pool_and_client(dev):
    """The verification the JWT authorizer did is the function's: its issuer and audience are the pool's."""
    variables = dev.template["Resources"][dev.logical_id(dev.stack.functions[HTTP_FUNCTION])]["Properties"][
        "Environment"
    ]["Variables"]
    pool_id = dev.logical_id(dev.stack.auth.user_pool)
    assert flatten(variables["JWT_ISSUER"]) == f"https://cognito-idp.<AWS::Region>.<AWS::URLSuffix>/<{pool_id}>"
    assert variables["JWT_AUDIENCE"] == ref(dev.logical_id(dev.stack.auth.client))


def test_all_http_routes_go_to_the_http_function_with_payload_v2(dev):
    function = get_att(dev.logical_id(dev.stack.functions[HTTP_FUNCTION]))
    for route_key, route in _routes_of(dev, dev.stack.http.api).items():
        integration = _integration_target(dev, route)
        assert integration["IntegrationType"] == "AWS_PROXY", route_key
        assert integration["IntegrationUri"] == function, route_key
        assert integration["PayloadFormatVersion"] == "2.0", route_key


def test_http_api_cors_allows_the_client_headers_and_methods(dev):
    cors = dev.template["Resources"][dev.logical_id(dev.stack.http.api)]["Properties"]["CorsConfiguration"]
    allowed_headers = set(cors["AllowHeaders"])
    assert allowed_headers == set(HTTP_CORS_ALLOW_HEADERS) >= {"Authorization", "Content-Type", "Idempotency-Key"}
    assert set(cors["AllowMethods"]) == set(HTTP_CORS_ALLOW_METHODS)
    assert cors["AllowOrigins"] == list(HTTP_CORS_ALLOW_ORIGINS) and cors["MaxAge"] == HTTP_CORS_MAX_AGE_SECONDS
    assert {"GET", "POST", "PATCH", "DELETE", "OPTIONS"} <= set(cors["AllowMethods"])
    # every method a route uses is allowed cross-origin
    assert {route.method for route in HTTP_ROUTES} <= set(cors["AllowMethods"])
    # a browser app can read the request ID its error bodies carry, and when to retry
    assert cors["ExposeHeaders"] == list(HTTP_CORS_EXPOSE_HEADERS)
    assert {"apigw-requestid", "Retry-After"} <= set(cors["ExposeHeaders"])


def _stage_props(synth, stage) -> dict:
    return synth.template["Resources"][synth.logical_id(stage)]["Properties"]


def test_http_default_stage_is_throttled_and_json_access_logged(dev):
    props = _stage_props(dev, dev.stack.http.stage)
    assert props["StageName"] == "$default" and props["AutoDeploy"] is True
    throttle = dev.stack.config.http_throttle
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == throttle.rate_limit
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] == throttle.burst_limit
    assert props["AccessLogSettings"]["DestinationArn"] == get_att(dev.logical_id(dev.stack.http.access_logs))
    fields = json.loads(props["AccessLogSettings"]["Format"])
    assert {"requestId", "routeKey", "status", "integrationError"} <= set(fields)


def test_every_websocket_route_exists_with_a_response_exactly_when_declared(dev):
    api_props = dev.template["Resources"][dev.logical_id(dev.stack.ws.api)]["Properties"]
    assert api_props["ProtocolType"] == "WEBSOCKET"
    assert api_props["RouteSelectionExpression"] == WS_ROUTE_SELECTION_EXPRESSION

    routes = _routes_of(dev, dev.stack.ws.api)
    assert set(routes) == {route.route_key for route in WS_ROUTES}
    responded = {
        props["RouteId"]["Ref"]
        for props in (r["Properties"] for r in dev.resources("AWS::ApiGatewayV2::RouteResponse").values())
        if props["RouteResponseKey"] == "$default"
    }
    for route in WS_ROUTES:
        has_response = routes[route.route_key]["id"] in responded
        assert has_response == route.returns_response, route.route_key


def test_all_websocket_routes_go_to_the_connection_function(dev):
    function_arn = f"<{dev.logical_id(dev.stack.functions[CONNECTION_FUNCTION])}.Arn>"
    for route_key, route in _routes_of(dev, dev.stack.ws.api).items():
        integration = _integration_target(dev, route)
        assert integration["IntegrationType"] == "AWS_PROXY", route_key
        assert function_arn in flatten(integration["IntegrationUri"]), route_key


def test_websocket_stage_is_named_after_the_stage_throttled_and_logged(dev):
    props = _stage_props(dev, dev.stack.ws.stage)
    assert props["StageName"] == dev.stack.config.stage and props["AutoDeploy"] is True
    throttle = dev.stack.config.ws_throttle
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == throttle.rate_limit
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] == throttle.burst_limit
    assert props["AccessLogSettings"]["DestinationArn"] == get_att(dev.logical_id(dev.stack.ws.access_logs))
    fields = json.loads(props["AccessLogSettings"]["Format"])
    assert {"requestId", "routeKey", "status", "integrationError", "connectionId"} <= set(fields)


def test_websocket_logging_role_is_configured_for_the_account(dev):
    (account,) = dev.resources("AWS::ApiGateway::Account").values()
    role_id = dev.logical_id(dev.stack.ws.account_role)
    assert account["Properties"]["CloudWatchRoleArn"] == get_att(role_id)
    assert dev.template["Resources"][role_id]["DeletionPolicy"] == "Retain"
