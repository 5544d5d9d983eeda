"""Speakers on a deployed stack: create one in the stack's Cognito user pool, and sign one in for a token.

    python -m infra.speaker create you@example.com           # prints an ID token; the password on stderr, once
    python -m infra.speaker token you@example.com            # asks for the password, prints an ID token
    echo "$PASSWORD" | python -m infra.speaker token you@example.com --password-stdin

The pool and app client are read from the stack's outputs (UserPoolId, UserPoolClientId) with the usual AWS
credentials, region and endpoint (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL: the emulator's banner prints the
line for it). Creating needs an operator's cognito-idp:AdminCreateUser and AdminSetUserPassword (the pool is
invite-only: no self sign-up); signing in is the app client's USER_PASSWORD_AUTH flow, as a speaker's app does
(infra/auth.py), with no AWS permission at all. The token is the ID token: the one the APIs verify (`aud` is the
app client).
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import string
import sys
from dataclasses import dataclass
from typing import Any

from infra.stack_name import DEFAULT_STAGE, stack_name


class SpeakerError(RuntimeError):
    """A refusal worth one line on stderr (no traceback): wrong password, no such stack, user exists..."""


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str


def user_pool_of(cloudformation: Any, stack: str) -> UserPool:
    """The stack's user pool and app client, from its outputs."""
    try:
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise SpeakerError(f"no stack {stack} here ({error.response['Error']['Message']}): deploy it first") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    try:
        return UserPool(outputs["UserPoolId"], outputs["UserPoolClientId"])
    except KeyError as missing:
        raise SpeakerError(f"stack {stack} has no output {missing}: is it this project's stack?") from None


def new_password() -> str:
    """A password the pool's policy accepts (infra/auth.py: 12+ characters, lower, upper, digit, symbol)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(24)) + "aA1!"


def create_speaker(cognito: Any, pool: UserPool, email: str, password: str, *, existing_ok: bool = False) -> None:
    """An invite-only user with a verified email and a permanent `password` (no invitation is sent, no
    first-sign-in password change is asked). An existing user is refused unless `existing_ok` (then its
    password is set anew)."""
    try:
        cognito.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
    except cognito.exceptions.UsernameExistsException:
        if not existing_ok:
            raise SpeakerError(f"{email} is already a speaker in {pool.pool_id}: sign in with `token`") from None
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username=email, Password=password, Permanent=True)


def sign_in(cognito: Any, pool: UserPool, email: str, password: str) -> str:
    """The speaker's ID token, by the app client's USER_PASSWORD_AUTH flow."""
    try:
        result = cognito.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    except (cognito.exceptions.NotAuthorizedException, cognito.exceptions.UserNotFoundException):
        # The client hides which of the two it was (prevent_user_existence_errors): so does this message.
        raise SpeakerError(f"wrong email or password for {email}") from None
    if "AuthenticationResult" not in result:  # e.g. SOFTWARE_TOKEN_MFA for a speaker who turned on TOTP
        raise SpeakerError(f"Cognito asks {email} for {result.get('ChallengeName')}: sign in from an app instead")
    return str(result["AuthenticationResult"]["IdToken"])


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("password: ")


def _clients(region: str | None) -> tuple[Any, Any]:
    import boto3  # here: `--help` needs no boto3

    return boto3.client("cloudformation", region_name=region), boto3.client("cognito-idp", region_name=region)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.speaker", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("create", "token"), help="create a speaker, or sign one in")
    parser.add_argument("email", help="the speaker's email (their user name in the pool)")
    parser.add_argument("--stage", default=DEFAULT_STAGE, help=f"the deployed stage (default {DEFAULT_STAGE})")
    parser.add_argument("--region", default=None, help="the stack's region (default: AWS_REGION / the profile's)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (create: instead of a generated one; token: instead of asking)",
    )
    args = parser.parse_args(argv)
    cloudformation, cognito = _clients(args.region)
    try:
        pool = user_pool_of(cloudformation, stack_name(args.stage))
        if args.command == "create":
            password = _read_password(True) if args.password_stdin else new_password()
            create_speaker(cognito, pool, args.email, password)
            if not args.password_stdin:
                print(f"created {args.email} in {pool.pool_id}; password (shown once): {password}", file=sys.stderr)
        else:
            password = _read_password(args.password_stdin)
        print(sign_in(cognito, pool, args.email, password))
    except SpeakerError as refused:
        print(f"python -m infra.speaker: {refused}", file=sys.stderr)
        return 1
    except cognito.exceptions.InvalidPasswordException as error:
        print(f"python -m infra.speaker: {error.response['Error']['Message']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
