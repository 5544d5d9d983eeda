"""HTTP API (payload format 2.0): one route per `session_schema.routes.HTTP_ROUTES` entry, one function.

No route has an API Gateway authorizer. An HTTP API's JWT authorizer refuses a missing, expired or
forged token with its own fixed body (`401 {"message": "Unauthorized"}`, which HTTP APIs cannot
customize), not the contract's `{"error": {"code", "message", "requestId"}}`. So every request reaches
the function, which verifies each bearer token itself (signature, `iss`, `aud`/`client_id`, `exp`,
`token_use`: `session_runtime.auth.TokenVerifier`, configured from the Cognito pool's issuer and app client
through JWT_ISSUER/JWT_AUDIENCE, infra/stack.py) and answers 401 UNAUTHORIZED in the contract's shape.
`auth=True` in the route table means "the handler requires a signed-in caller". Stage throttling
still applies to every route (cdk-nag APIG4 is acknowledged per route in infra/nag.py).

The one exception is a route whose `auth_kind` is "iam" (`POST /iam/sessions/{sessionId}/broadcasts`, the
producers' twin of the owner's publish): API Gateway's IAM authorizer verifies its SigV4 signature and the
caller's `execute-api:Invoke` permission on that route (`grant_publish`), answering a refusal with its own 403,
and hands the signer to the function, which also checks it is a role named at deploy time (PUBLISHER_ROLE_ARNS).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from session_schema.routes import (
    HTTP_CORS_ALLOW_HEADERS,
    HTTP_CORS_ALLOW_METHODS,
    HTTP_CORS_ALLOW_ORIGINS,
    HTTP_CORS_EXPOSE_HEADERS,
    HTTP_CORS_MAX_AGE_SECONDS,
    HTTP_ROUTES,
    HttpRoute,
)

from infra import emulator
from infra.access_logs import HTTP_ACCESS_LOG_FIELDS, JsonAccessLogSettings, access_log_group
from infra.config import StackConfig

IAM_ROUTES: tuple[HttpRoute, ...] = tuple(route for route in HTTP_ROUTES if route.auth_kind == "iam")


@dataclass(frozen=True)
class HttpApiParts:
    api: apigwv2.HttpApi
    stage: apigwv2.HttpStage
    routes: dict[str, apigwv2.HttpRoute]  # by route key, e.g. "GET /sessions/{sessionId}"
    access_logs: logs.LogGroup
    emulator_endpoint: str | None = None  # emulated deploy: URL on the emulator (infra/emulator.py)

    @property
    def url(self) -> str:
        if self.emulator_endpoint:
            return emulator.http_api_url(self.emulator_endpoint, self.api.api_id)
        return self.stage.url


def build_http_api(scope: Construct, config: StackConfig, handler: lambda_.IFunction) -> HttpApiParts:
    api = apigwv2.HttpApi(
        scope,
        "HttpApi",
        api_name=f"live-sessions-http-{config.stage}",
        description="Live sessions: speakers create and control sessions",
        create_default_stage=False,  # the $default stage below carries throttling and access logs
        cors_preflight=apigwv2.CorsPreflightOptions(
            allow_origins=list(HTTP_CORS_ALLOW_ORIGINS),
            allow_headers=list(HTTP_CORS_ALLOW_HEADERS),
            allow_methods=[apigwv2.CorsHttpMethod(m) for m in HTTP_CORS_ALLOW_METHODS],
            expose_headers=list(HTTP_CORS_EXPOSE_HEADERS),
            max_age=Duration.seconds(HTTP_CORS_MAX_AGE_SECONDS),
        ),
    )
    access_logs = access_log_group(scope, "HttpApiAccessLogs", config)
    stage = apigwv2.HttpStage(
        scope,
        "HttpApiDefaultStage",
        http_api=api,
        stage_name="$default",
        auto_deploy=True,
        throttle=apigwv2.ThrottleSettings(
            rate_limit=config.http_throttle.rate_limit, burst_limit=config.http_throttle.burst_limit
        ),
        access_log_settings=JsonAccessLogSettings(access_logs, HTTP_ACCESS_LOG_FIELDS),
    )
    integration = integrations.HttpLambdaIntegration(
        "HttpSessionIntegration",
        handler,
        payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
    )
    routes: dict[str, apigwv2.HttpRoute] = {}
    for route in HTTP_ROUTES:
        routes[route.route_key] = _add_route(api, route, integration)
    return HttpApiParts(
        api=api,
        stage=stage,
        routes=routes,
        access_logs=access_logs,
        emulator_endpoint=config.emulator_endpoint,
    )


def _add_route(
    api: apigwv2.HttpApi,
    route: HttpRoute,
    integration: apigwv2.HttpRouteIntegration,
) -> apigwv2.HttpRoute:
    (created,) = api.add_routes(
        path=route.path,
        methods=[apigwv2.HttpMethod(route.method)],
        integration=integration,
        # No gateway authorizer on a "token" route (module docstring): the handler verifies every bearer token,
        # and refuses a signed-in route (route.auth) without a valid one in the contract's error shape.
        authorizer=authorizers.HttpIamAuthorizer() if route.auth_kind == "iam" else apigwv2.HttpNoneAuthorizer(),
    )
    return created
