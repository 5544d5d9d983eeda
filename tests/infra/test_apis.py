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


def test_every_http_route_exists_and_only_the_iam_route_has_an_authorizer(dev):
    """API Gateway's JWT authorizer answers a bad token with its own fixed `{"message": "Unauthorized"}`
    (not customizable on HTTP APIs), so no token route has one: the function verifies every token itself. The
    producers' publish route alone is behind AWS IAM (SigV4), which needs no Authorizer resource."""
    routes = _routes_of(dev, dev.stack.http.api)
    assert set(routes) == {route.route_key for route in HTTP_ROUTES}
    for route_key, deployed in routes.items():
        expected = "AWS_IAM" if route_key == IAM_PUBLISH else "NONE"
        assert deployed["AuthorizationType"] == expected, route_key
        assert "AuthorizerId" not in deployed and "AuthorizationScopes" not in deployed, route_key
    assert dev.resources("AWS::ApiGatewayV2::Authorizer") == {}


# The HTTP routes of the product contract (../shared/contract.md, "HTTP API"), written out by hand from it
# rather than read from session_schema.routes.HTTP_ROUTES (which the stack and the handler are built from),
# so a route or its `auth` changed in that table alone shows up here. No route has a gateway authorizer
# (above): "signed in" routes are refused by the handler without a valid bearer token (it then checks
# ownership for the owner routes); "anyone" routes need no token (GET messages is "anyone while joinable,
# owner always": the handler reads an optional token itself).
SIGNED_IN, ANYONE, SIGNED_BY_AWS = "signed in", "anyone", "SigV4-signed by a granted AWS role"
IAM_PUBLISH = "POST /iam/sessions/{sessionId}/broadcasts"
IAM_PUBLISH_PATH = "POST/iam/sessions/*/broadcasts"  # its execute-api resource: any session, this route only
SHARED = "anyone, for what the owner shared"  # public routes (no authorizer), the rest the owner's
CONTRACT_HTTP_ROUTES: dict[str, str] = {
    "POST /sessions": SIGNED_IN,
    "GET /sessions": SIGNED_IN,
    "GET /sessions/{sessionId}": ANYONE,
    "PATCH /sessions/{sessionId}": SIGNED_IN,  # owner
    "DELETE /sessions/{sessionId}": SIGNED_IN,  # owner
    "DELETE /sessions/{sessionId}/data": SIGNED_IN,  # owner: everything the session holds (retention)
    "GET /sessions/{sessionId}/messages": ANYONE,
    "POST /sessions/{sessionId}/messages": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/events": ANYONE,  # the stream (the owner always, anyone while joinable)
    "POST /sessions/{sessionId}/broadcasts": SIGNED_IN,  # owner ("Channels": Publishing)
    IAM_PUBLISH: SIGNED_BY_AWS,  # its twin for producers inside the AWS account
    "POST /sessions/{sessionId}/artifacts": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/artifacts": SHARED,  # the owner's; `shared=true` for anyone while joinable
    "PATCH /sessions/{sessionId}/artifacts/{artifactId}": SIGNED_IN,  # owner
    "DELETE /sessions/{sessionId}/artifacts/{artifactId}": SIGNED_IN,  # owner
    "POST /sessions/{sessionId}/artifacts/{artifactId}/results": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/artifacts/{artifactId}/results": SIGNED_IN,  # owner
    "GET /sessions/{sessionId}/artifacts/{artifactId}/download": SHARED,  # a shared one, while joinable
    "GET /health": ANYONE,
    "GET /openapi.json": ANYONE,
    "GET /asyncapi.json": ANYONE,  # "Clients and documents": the WebSocket API's AsyncAPI document
    "GET /lifecycle-events.json": ANYONE,  # "Lifecycle events": a JSON Schema per detail-type, with the documents
}


def test_http_routes_are_the_contract_s_and_the_table_marks_who_may_call(dev):
    assert set(_routes_of(dev, dev.stack.http.api)) == set(CONTRACT_HTTP_ROUTES)
    kinds = {
        r.route_key: SIGNED_BY_AWS if r.auth_kind == "iam" else SIGNED_IN if r.auth else ANYONE for r in HTTP_ROUTES
    }
    assert kinds == {key: ANYONE if who == SHARED else who for key, who in CONTRACT_HTTP_ROUTES.items()}


@pytest.mark.parametrize("route_key", sorted(CONTRACT_HTTP_ROUTES))
def test_signed_in_routes_still_need_a_token_end_to_end(handlers, route_key):
    """What the deployed route delivers (a v2 event, no authorizer) to the real handler: a signed-in route
    without a token is the contract's 401 UNAUTHORIZED; an "anyone" route answers without one."""
    session_id = handlers.create("owner-1")["sessionId"]
    method, path = route_key.split(" ", 1)
    concrete = path.replace("{sessionId}", session_id).replace("{artifactId}", "art_01JABCDEFGHJKMNPQRSTVWXYZ0")
    answer = handlers.http(method, concrete, body={} if method in ("POST", "PATCH") else None)
    if CONTRACT_HTTP_ROUTES[route_key] in (SIGNED_IN, SIGNED_BY_AWS):  # the IAM route: no signer, no caller
        assert answer.status == 401, answer.raw_body
        assert answer.error["code"] == "UNAUTHORIZED" and answer.error["message"] and answer.error["requestId"]
    elif CONTRACT_HTTP_ROUTES[route_key] == SHARED:  # nothing shared here: the owner's alone (sharing: tests/http)
        assert answer.status in (401, 404), answer.raw_body
        assert answer.error["code"] in ("UNAUTHORIZED", "ARTIFACT_NOT_FOUND") and answer.error["requestId"]
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


def test_every_websocket_route_but_disconnect_goes_to_the_connection_function(dev):
    """`$disconnect` goes to the disconnect queue (tests/infra/test_disconnect_queue.py)."""
    function_arn = f"<{dev.logical_id(dev.stack.functions[CONNECTION_FUNCTION])}.Arn>"
    routes = _routes_of(dev, dev.stack.ws.api)
    assert _integration_target(dev, routes.pop("$disconnect"))["IntegrationType"] == "AWS"
    for route_key, route in routes.items():
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


def _policies_granting_invoke(synth) -> dict[str, dict]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in synth.resources("AWS::IAM::Policy").items()
        if any(s["Action"] == "execute-api:Invoke" for s in resource["Properties"]["PolicyDocument"]["Statement"])
    }


def _function_variables(synth) -> dict:
    function = synth.template["Resources"][synth.logical_id(synth.stack.functions[HTTP_FUNCTION])]
    return function["Properties"]["Environment"]["Variables"]


def test_without_publisher_roles_nobody_is_granted_the_iam_route(dev):
    assert _policies_granting_invoke(dev) == {}
    assert _function_variables(dev)["PUBLISHER_ROLE_ARNS"] == ""


def test_the_context_s_publisher_roles_may_invoke_exactly_the_iam_route_and_the_handler_admits_them(prod):
    """`-c publisherRoleArns=...` (the prod synth names two): each role gets execute-api:Invoke on that one route
    of this API's stage, nothing else, and the function's PUBLISHER_ROLE_ARNS lists them for its own check."""
    from tests.support.synth import PROD_PUBLISHER_ROLES

    api = f"<{prod.logical_id(prod.stack.http.api)}>"
    route_arn = f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:{api}/$default/{IAM_PUBLISH_PATH}"
    policies = _policies_granting_invoke(prod)
    granted_roles = sorted(role for props in policies.values() for role in props["Roles"])
    assert granted_roles == sorted(arn.rsplit("/", 1)[-1] for arn in PROD_PUBLISHER_ROLES)
    for props in policies.values():
        (statement,) = props["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow" and flatten(statement["Resource"]) == route_arn
    assert _function_variables(prod)["PUBLISHER_ROLE_ARNS"] == ",".join(PROD_PUBLISHER_ROLES)


def test_grant_publish_grants_a_role_of_the_app_the_route_and_the_handler_s_check(tmp_path):
    """`stack.grant_publish(role)` after the stack is built: the role's policy allows invoking the IAM route, and
    the function's PUBLISHER_ROLE_ARNS (resolved at synth) names the role."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from infra.build import build_app
    from tests.support.synth import ROOT

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=context, outdir=str(tmp_path))
    stack = build_app(app)
    role = iam.Role(stack, "CaptionsJob", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    stack.grant_publish(role)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    role_id = stack.resolve(stack.get_logical_id(role.node.default_child))
    (policy,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    assert flatten(statement["Resource"]).endswith(f"/$default/{IAM_PUBLISH_PATH}")
    http_function = stack.resolve(stack.get_logical_id(stack.functions[HTTP_FUNCTION].node.default_child))
    variables = template["Resources"][http_function]["Properties"]["Environment"]["Variables"]
    assert flatten(variables["PUBLISHER_ROLE_ARNS"]) == f"<{role_id}.Arn>"
