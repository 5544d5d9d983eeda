"""Producers granted the IAM publish route: one place that grants both checks a signed request meets.

API Gateway's IAM authorizer lets a signer through when its policy allows `execute-api:Invoke` on the route;
the handler then accepts only the principals in PUBLISHER_ROLE_ARNS (http_session_handler/producers.py), so an
administrator's `execute-api:*` alone does not make it a producer. `grant` does both: the Invoke permission on
exactly the IAM routes' ARNs, and the principal's ARN in that setting. The setting is lazy, so a grant made
after the functions were built (a `grant_publish` from the app) still reaches their environment.

A route's ARN names its stage, method and path with `*` for each path parameter
(`<api>/$default/POST/iam/sessions/*/broadcasts`): CDK's `HttpRoute.route_arn` cuts the path at its first
parameter (`.../iam/sessions/*`), which would also grant any route added under it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import jsii
from aws_cdk import Fn, IStableStringProducer, Lazy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam

from session_schema.routes import HttpRoute

from infra import nag

INVOKE_ACTION = "execute-api:Invoke"


@jsii.implements(IStableStringProducer)
class _JoinedArns:
    def __init__(self, arns: list[str]) -> None:
        self._arns = arns

    def produce(self) -> str | None:
        return Fn.join(",", self._arns) if self._arns else ""


def route_arn(stack: Stack, api: apigwv2.IHttpApi, stage_name: str, route: HttpRoute) -> str:
    """The execute-api ARN of exactly one route of one stage (path parameters as `*`)."""
    path = re.sub(r"\{[^}]+\}", "*", route.path)
    name = f"{stage_name}/{route.method}{path}"
    return stack.format_arn(service="execute-api", resource=api.api_id, resource_name=name)


class Publishers:
    def __init__(self, stack: Stack, api: apigwv2.IHttpApi, stage_name: str, routes: Sequence[HttpRoute]) -> None:
        self._stack = stack
        self.resource_arns = [route_arn(stack, api, stage_name, route) for route in routes]
        self._arns: list[str] = []
        self.arns = Lazy.string(_JoinedArns(self._arns))  # PUBLISHER_ROLE_ARNS, as granted when synthesized

    def grant(self, grantee: iam.IGrantable) -> iam.Grant:
        arn = getattr(grantee, "role_arn", None) or getattr(grantee, "user_arn", None)
        if not isinstance(arn, str):
            raise TypeError("grant_publish takes an IAM role or user (the handler matches the signer's ARN)")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=[INVOKE_ACTION], resource_arns=self.resource_arns)
        self._arns.append(arn)
        if hasattr(grantee, "node"):  # a construct: the policy the grant wrote is under it (a role's default policy)
            for resource in self.resource_arns:
                finding = f"Resource::{nag.nag_string(self._stack, resource)}"
                nag.acknowledge(grantee, "IAM5", "IAM5-publish-route", finding)
        return grant
