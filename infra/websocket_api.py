"""WebSocket API: every `session_schema.routes.WS_ROUTES` entry, integrated with ConnectionFunction, except
`$disconnect`, sent to the disconnect queue (infra/disconnect_queue.py) whose mapping invokes that function. Emulated,
`$disconnect` invokes the function too: the emulator runs every AWS integration as a Lambda one (infra/emulator.py)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from session_schema.routes import WS_ROUTE_SELECTION_EXPRESSION, WS_ROUTES, WebSocketRoute

from infra import emulator
from infra.access_logs import WEBSOCKET_ACCESS_LOG_FIELDS, JsonAccessLogSettings, access_log_group
from infra.config import StackConfig

# The routes API Gateway defines itself; each has its own WebSocketApi option instead of add_route.
_BUILT_IN_ROUTE_OPTIONS = {
    "$connect": "connect_route_options",
    "$disconnect": "disconnect_route_options",
    "$default": "default_route_options",
}


@dataclass(frozen=True)
class WebSocketApiParts:
    api: apigwv2.WebSocketApi
    stage: apigwv2.WebSocketStage
    access_logs: logs.LogGroup
    account_role: iam.Role | None
    emulator_endpoint: str | None = None  # emulated deploy: URLs on the emulator (infra/emulator.py)

    @property
    def url(self) -> str:
        """wss://... : what clients connect to."""
        if self.emulator_endpoint:
            return emulator.websocket_url(self.emulator_endpoint, self.api.api_id, self.stage.stage_name)
        return self.stage.url

    @property
    def callback_url(self) -> str:
        """https://... : the management endpoint post_to_connection talks to (never the wss URL)."""
        if self.emulator_endpoint:
            return emulator.callback_url(self.emulator_endpoint, self.api.api_id, self.stage.stage_name)
        return self.stage.callback_url


def build_websocket_api(
    scope: Construct, config: StackConfig, handler: lambda_.IFunction, disconnects: apigwv2.WebSocketRouteIntegration
) -> WebSocketApiParts:
    integration = integrations.WebSocketLambdaIntegration(
        "ConnectionIntegration", handler, timeout=Duration.seconds(29)
    )
    integration_of = {} if config.is_emulated else {"$disconnect": disconnects}

    # Emulated: no RouteResponse resources, which the emulator's CloudFormation cannot create (it fails the
    # whole deploy); the emulator sends a route's response body back without one (infra/emulator.py).
    def returns_response(route: WebSocketRoute) -> bool:
        return route.returns_response and not config.is_emulated

    def options(route: WebSocketRoute) -> apigwv2.WebSocketRouteOptions:
        return apigwv2.WebSocketRouteOptions(
            integration=integration_of.get(route.route_key, integration), return_response=returns_response(route)
        )

    built_in = {
        _BUILT_IN_ROUTE_OPTIONS[route.route_key]: options(route)
        for route in WS_ROUTES
        if route.route_key in _BUILT_IN_ROUTE_OPTIONS
    }
    api = apigwv2.WebSocketApi(
        scope,
        "WebSocketApi",
        api_name=f"live-sessions-ws-{config.stage}",
        description="Live sessions: listeners join, speakers broadcast",
        route_selection_expression=WS_ROUTE_SELECTION_EXPRESSION,
        **built_in,
    )
    for route in WS_ROUTES:
        if route.route_key not in _BUILT_IN_ROUTE_OPTIONS:
            api.add_route(route.route_key, integration=integration, return_response=returns_response(route))

    account_role = _api_gateway_logging_role(scope) if config.apigw_account_role else None
    access_logs = access_log_group(scope, "WebSocketApiAccessLogs", config)
    stage = apigwv2.WebSocketStage(
        scope,
        "WebSocketStage",
        web_socket_api=api,
        stage_name=config.stage,
        auto_deploy=True,
        throttle=apigwv2.ThrottleSettings(
            rate_limit=config.ws_throttle.rate_limit, burst_limit=config.ws_throttle.burst_limit
        ),
        access_log_settings=JsonAccessLogSettings(access_logs, WEBSOCKET_ACCESS_LOG_FIELDS),
    )
    if account_role is not None:
        # WebSocket stages log through the account-level API Gateway CloudWatch role.
        stage.node.add_dependency(account_role.node.scope)  # the CfnAccount (parent of the role)
    return WebSocketApiParts(
        api=api,
        stage=stage,
        access_logs=access_logs,
        account_role=account_role,
        emulator_endpoint=config.emulator_endpoint,
    )


def _api_gateway_logging_role(scope: Construct) -> iam.Role:
    """The account/region-wide role API Gateway needs before a WebSocket stage may write logs.

    Same as RestApi's `cloudWatchRole`: a singleton per account and region, so it is RETAINed (deleting
    it would silently stop logging for every other API in the account). Disable with
    `-c apigwAccountRole=false` where the account already has one.
    """
    holder = Construct(scope, "ApiGatewayAccount")
    role = iam.Role(
        holder,
        "CloudWatchRole",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
        ],
    )
    role.apply_removal_policy(RemovalPolicy.RETAIN)
    apigw.CfnAccount(holder, "Account", cloud_watch_role_arn=role.role_arn)
    return role
