"""`-c emulated=<endpoint>`: the stack deployed into the local AWS emulator differs from the real one only in
what infra/emulator.py lists. (tests/emulator deploys it; this checks the template without an emulator.)"""

from __future__ import annotations

import pytest

from session_schema.routes import WS_ROUTES

from infra.functions import FUNCTION_SPECS
from infra.nag import flatten
from tests.support.cfn_expr import as_list
from tests.support.synth import Synth, synth, violations

ENDPOINT = "http://127.0.0.1:4599"


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(tmp_path_factory.mktemp("cdk-emulated"), emulated=ENDPOINT)


def _function_env(synth: Synth, name: str) -> dict:
    props = synth.template["Resources"][synth.logical_id(synth.stack.functions[name])]["Properties"]
    return props["Environment"]["Variables"]


def test_stack_env_is_the_emulators_account_and_region(emulated):
    assert (emulated.stack.account, emulated.stack.region) == ("000000000000", "us-east-1")


def test_only_the_listed_resources_are_left_out(dev, emulated):
    left_out = set(dev.template["Resources"]) - set(emulated.template["Resources"])
    added = set(emulated.template["Resources"]) - set(dev.template["Resources"])
    # `$disconnect` invokes the function there (infra/emulator.py): API Gateway's permission to, for that route only
    assert [emulated.template["Resources"][i]["Type"] for i in added] == ["AWS::Lambda::Permission"]
    assert all("disconnect" in logical_id for logical_id in added)
    types = sorted({dev.template["Resources"][logical_id]["Type"] for logical_id in left_out})
    assert types == [
        "AWS::ApiGatewayV2::Integration",  # `$disconnect`'s to SQS: the emulator invokes the function instead
        "AWS::ApiGatewayV2::RouteResponse",  # the emulator's CloudFormation has no handler for it
        "AWS::CloudWatch::Alarm",  # the metric-math DynamoDB throttling alarm
        "AWS::IAM::Role",  # the auto-delete custom resource's provider ...
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",  # the dependency layer (the emulator's venv has the same pins)
        "Custom::S3AutoDeleteObjects",  # ... and the custom resources themselves
    ]
    alarms = [i for i in left_out if dev.template["Resources"][i]["Type"] == "AWS::CloudWatch::Alarm"]
    assert [dev.template["Resources"][i]["Properties"].get("Metrics") is not None for i in alarms] == [True]
    functions = [i for i in left_out if dev.template["Resources"][i]["Type"] == "AWS::Lambda::Function"]
    assert [dev.template["Resources"][i]["Properties"]["Runtime"].startswith("nodejs") for i in functions] == [True]
    assert len([r for r in WS_ROUTES if r.returns_response]) == len(
        [i for i in left_out if dev.template["Resources"][i]["Type"] == "AWS::ApiGatewayV2::RouteResponse"]
    )


@pytest.mark.parametrize("name", sorted(FUNCTION_SPECS))
def test_functions_have_no_layers_and_the_emulators_urls(dev, emulated, name):
    props = emulated.template["Resources"][emulated.logical_id(emulated.stack.functions[name])]["Properties"]
    assert not props.get("Layers")
    env, real = _function_env(emulated, name), _function_env(dev, name)
    assert set(env) == set(real) and real["JWKS_URL"] == ""  # default: <issuer>/.well-known/jwks.json
    ws_api = f"<{emulated.logical_id(emulated.stack.ws.api)}>"
    pool = f"<{emulated.logical_id(emulated.stack.auth.user_pool)}>"
    assert flatten(env["WS_CALLBACK_URL"]) == f"{ENDPOINT}/_aws/execute-api/{ws_api}/dev"
    assert flatten(env["JWKS_URL"]) == f"{ENDPOINT}/{pool}/.well-known/jwks.json"
    # the issuer is still the real Cognito URL: the emulator's tokens carry it
    assert flatten(env["JWT_ISSUER"]) == flatten(real["JWT_ISSUER"]).replace("<AWS::Region>", "us-east-1")
    unchanged = set(real) - {"WS_CALLBACK_URL", "JWKS_URL", "JWT_ISSUER"}
    assert {k: env[k] for k in unchanged} == {k: real[k] for k in unchanged}


def test_outputs_are_the_emulators_urls(emulated):
    outputs = {k: flatten(v["Value"]) for k, v in emulated.template["Outputs"].items()}
    http_api, ws_api = (f"<{emulated.logical_id(api)}>" for api in (emulated.stack.http.api, emulated.stack.ws.api))
    assert outputs["HttpApiUrl"] == f"{ENDPOINT}/_aws/execute-api/{http_api}"
    assert outputs["WebSocketUrl"] == f"ws://127.0.0.1:4599/_aws/execute-api/{ws_api}/dev"
    assert outputs["WebSocketCallbackUrl"] == f"{ENDPOINT}/_aws/execute-api/{ws_api}/dev"


def test_emulated_stack_still_passes_nag_and_keeps_its_iam(dev, emulated):
    assert violations(emulated) == []
    # IAM is not enforced by the emulator, but the same policies are deployed (in its account and region)
    def statements(synth: Synth, logical_id: str) -> list[tuple]:
        document = synth.template["Resources"][logical_id]["Properties"]["PolicyDocument"]
        pseudo = {"<AWS::Region>": "us-east-1", "<AWS::AccountId>": "000000000000"}

        def text(resource) -> str:
            value = flatten(resource)
            for name, concrete in pseudo.items():
                value = value.replace(name, concrete)
            return value

        return [
            (s.get("Sid"), s["Effect"], str(s["Action"]), sorted(text(r) for r in as_list(s["Resource"])))
            for s in document["Statement"]
        ]

    for function in emulated.stack.functions.values():
        logical_id = emulated.logical_id(function.role.node.find_child("DefaultPolicy"))
        assert statements(emulated, logical_id) == statements(dev, logical_id)
