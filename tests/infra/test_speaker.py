"""`python -m infra.speaker` against moto's Cognito and CloudFormation in process: the stack's outputs name the
pool, `create` makes a speaker and prints a token, `token` signs one in, and each refusal is one line.

The same command runs against the emulator's real deploy in tests/emulator/test_deployed_stack.py.
"""

from __future__ import annotations

import io
import json

import jwt
import pytest
from moto import mock_aws

from infra import speaker
from infra.stack_name import stack_name


@pytest.fixture
def pool(monkeypatch):
    import boto3

    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = cognito.create_user_pool(PoolName="speakers", UsernameAttributes=["email"])["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="app",
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        outputs = {"UserPoolId": pool_id, "UserPoolClientId": client_id}
        template = {
            "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        cloudformation.create_stack(StackName=stack_name("dev"), TemplateBody=json.dumps(template))
        yield speaker.UserPool(pool_id, client_id)


def run(monkeypatch, capsys, *args: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = speaker.main(["--region", "us-east-1", *args])
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_create_prints_a_token_for_the_new_speaker_and_the_password_once(pool, monkeypatch, capsys):
    code, token, err = run(monkeypatch, capsys, "create", "ada@example.com")
    assert code == 0
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["email"] == "ada@example.com" and claims["token_use"] == "id" and claims["aud"] == pool.client_id
    password = err.rsplit("password (shown once): ", 1)[1]
    code, again, _ = run(monkeypatch, capsys, "token", "ada@example.com", "--password-stdin", stdin=password + "\n")
    assert code == 0 and jwt.decode(again, options={"verify_signature": False})["email"] == "ada@example.com"


def test_create_with_a_chosen_password_and_the_refusals(pool, monkeypatch, capsys):
    chosen = "Correct-Horse-42-battery"
    assert run(monkeypatch, capsys, "create", "bo@example.com", "--password-stdin", stdin=chosen)[0] == 0
    code, out, err = run(monkeypatch, capsys, "create", "bo@example.com")
    assert (code, out) == (1, "") and "already a speaker" in err  # never resets a speaker's password
    code, out, err = run(monkeypatch, capsys, "token", "bo@example.com", "--password-stdin", stdin="wrong")
    assert (code, out) == (1, "") and "wrong email or password" in err
    code, out, err = run(monkeypatch, capsys, "token", "bo@example.com", "--stage", "prod", "--password-stdin")
    assert (code, out) == (1, "") and f"no stack {stack_name('prod')}" in err


def test_generated_passwords_meet_the_pools_policy():
    for _ in range(50):
        password = speaker.new_password()
        assert len(password) >= 12
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
