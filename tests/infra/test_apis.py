"""The deployed APIs expose exactly the route table the handlers and the local stack use."""

from __future__ import annotations

import json

from session_schema.routes import (
    HTTP_CORS_ALLOW_HEADERS,
    HTTP_CORS_ALLOW_METHODS,
    HTTP_CORS_ALLOW_ORIGINS,
    HTTP_CORS_MAX_AGE_SECONDS,
    HTTP_ROUTES,
    WS_ROUTE_SELECTION_EXPRESSION,
    WS_ROUTES,
)

from infra.functions import CONNECTION_FUNCTION, HTTP_FUNCTION
from tests.infra.cfn_expr import flatten, get_att, ref


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


def test_every_http_route_exists_with_jwt_auth_exactly_when_declared(dev):
    routes = _routes_of(dev, dev.stack.http.api)
    assert set(routes) == {route.route_key for route in HTTP_ROUTES}
    for route in HTTP_ROUTES:
        deployed = routes[route.route_key]
        if route.auth:
            assert deployed["AuthorizationType"] == "JWT", route.route_key
            assert "AuthorizerId" in deployed, route.route_key
        else:
            assert deployed["AuthorizationType"] == "NONE", route.route_key
            assert "AuthorizerId" not in deployed, route.route_key


# The HTTP routes of the product contract (../shared/contract.md, "HTTP API"), written out by hand from it
# rather than read from session_schema.routes.HTTP_ROUTES (which the stack is built from), so a route or an
# authorizer changed in that table alone shows up here. "owner" routes need a signed-in caller (the JWT
# authorizer); the handler then checks ownership. "anyone" routes have no authorizer (GET messages is
# "anyone while joinable, owner always": the handler reads an optional token itself).
SIGNED_IN, ANYONE = "signed in", "anyone"
CONTRACT_HTTP_ROUTES: dict[str, str] = {
    "POST /sessions": SIGNED_IN,
    "GET /sessions": SIGNED_IN,
    "GET /sessions/{sessionId}": ANYONE,
    "PATCH /sessions/{sessionId}": SIGNED_IN,  # owner
    "DELETE /sessions/{sessionId}": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/messages": ANYONE,
    "POST /sessions/{sessionId}/messages": SIGNED_IN,  # owner
    "POST /sessions/{sessionId}/artifacts": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/artifacts": SIGNED_IN,  # owner
    "PATCH /sessions/{sessionId}/artifacts/{artifactId}": SIGNED_IN,  # owner
    "DELETE /sessions/{sessionId}/artifacts/{artifactId}": SIGNED_IN,  # owner
    "GET /health": ANYONE,
    "GET /openapi.json": ANYONE,
}


def test_http_routes_and_their_authorizers_are_the_contract_s(dev):
    (authorizer_id,) = dev.resources("AWS::ApiGatewayV2::Authorizer")
    deployed = {}
    for route_key, route in _routes_of(dev, dev.stack.http.api).items():
        if route["AuthorizationType"] == "JWT" and route.get("AuthorizerId") == ref(authorizer_id):
            deployed[route_key] = SIGNED_IN
        elif route["AuthorizationType"] == "NONE" and "AuthorizerId" not in route:
            deployed[route_key] = ANYONE
        else:
            deployed[route_key] = f"{route['AuthorizationType']} / {route.get('AuthorizerId')}"
    assert deployed == CONTRACT_HTTP_ROUTES


def test_jwt_authorizer_trusts_the_cognito_pool_and_client(dev):
    (authorizer,) = dev.resources("AWS::ApiGatewayV2::Authorizer").items()
    logical_id, resource = authorizer
    props = resource["Properties"]
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    pool_id = dev.logical_id(dev.stack.auth.user_pool)
    client_id = dev.logical_id(dev.stack.auth.client)
    assert flatten(props["JwtConfiguration"]["Issuer"]) == (
        f"https://cognito-idp.<AWS::Region>.<AWS::URLSuffix>/<{pool_id}>"
    )
    assert props["JwtConfiguration"]["Audience"] == [ref(client_id)]
    authorized = [r for r in _routes_of(dev, dev.stack.http.api).values() if r["AuthorizationType"] == "JWT"]
    assert authorized and all(r["AuthorizerId"] == ref(logical_id) for r in authorized)


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
