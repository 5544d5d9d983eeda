"""Cognito user pool for speakers, and the JWT issuer/audience the handlers check.

The APIs run no gateway authorizer (infra/http_api.py): the handlers verify every token themselves with
`session_runtime.auth.TokenVerifier`, configured from `Auth.issuer` and `Auth.audience` (infra/stack.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import StackConfig


@dataclass(frozen=True)
class Auth:
    user_pool: cognito.UserPool
    client: cognito.UserPoolClient

    @property
    def issuer(self) -> str:
        """`iss` of the pool's tokens: https://cognito-idp.<region>.amazonaws.com/<userPoolId>."""
        stack = Stack.of(self.user_pool)
        return f"https://cognito-idp.{stack.region}.{stack.url_suffix}/{self.user_pool.user_pool_id}"

    @property
    def audience(self) -> str:
        """`aud` of the pool's ID tokens (`client_id` of its access tokens): the app client ID."""
        return self.client.user_pool_client_id


def build_auth(scope: Construct, config: StackConfig) -> Auth:
    user_pool = cognito.UserPool(
        scope,
        "UserPool",
        self_sign_up_enabled=False,  # speakers are provisioned by an operator
        sign_in_aliases=cognito.SignInAliases(email=True),
        sign_in_case_sensitive=False,
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        standard_attributes=cognito.StandardAttributes(
            email=cognito.StandardAttribute(required=True, mutable=True)
        ),
        password_policy=cognito.PasswordPolicy(
            min_length=12,
            require_lowercase=True,
            require_uppercase=True,
            require_digits=True,
            require_symbols=True,
            temp_password_validity=Duration.days(3),
        ),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        mfa=cognito.Mfa.OPTIONAL,
        mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
        # Essentials tier: the Plus tier's threat protection is billed per MAU (see infra/nag.py, COG8).
        feature_plan=cognito.FeaturePlan.ESSENTIALS,
        deletion_protection=config.is_prod,
        removal_policy=config.removal_policy,
    )
    client = user_pool.add_client(
        "AppClient",
        generate_secret=False,  # public clients (browser, mobile) cannot keep a secret
        auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
        prevent_user_existence_errors=True,
        enable_token_revocation=True,
        id_token_validity=Duration.hours(1),
        access_token_validity=Duration.hours(1),
        refresh_token_validity=Duration.days(30),
    )
    return Auth(user_pool=user_pool, client=client)
