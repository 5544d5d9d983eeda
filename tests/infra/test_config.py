"""Context -> configuration (no synth): stage, the emulated callback URL, setting overrides."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import RemovalPolicy

from session_schema.settings import stack_environment

from infra.config import load_config

STACK_VALUES = {
    "TABLE_NAME": "t",
    "ARTIFACTS_BUCKET": "b",
    "EVENT_BUS_NAME": "e",
    "WS_CALLBACK_URL": "https://api.example/dev",
    "JWT_ISSUER": "https://issuer.example",
    "JWT_AUDIENCE": "client",
    "CURSOR_KEY_SECRET": "cursor-secret",
}


def _config(**context):
    return load_config(cdk.App(context=context).node)


def test_stage_defaults_to_dev_and_only_prod_retains():
    assert _config().stage == "dev"
    assert _config().removal_policy == RemovalPolicy.DESTROY
    assert _config(stage="prod").removal_policy == RemovalPolicy.RETAIN
    assert _config(stage="prod").stack_name == "LiveSessions-prod"


def test_invalid_stage_is_refused():
    with pytest.raises(ValueError, match="stage"):
        _config(stage="Prod Stack")


def test_emulated_context_is_the_emulator_endpoint_and_sets_nothing_by_itself():
    # The emulated URLs depend on resources (API and pool ids): the stack builds them (test_emulated.py).
    config = _config(emulated="http://127.0.0.1:4599/")
    assert config.is_emulated and config.emulator_endpoint == "http://127.0.0.1:4599"
    assert config.environment_overrides() == {}
    assert not _config().is_emulated
    assert stack_environment(STACK_VALUES, _config().environment_overrides())["WS_CALLBACK_URL"].startswith("https://")


@pytest.mark.parametrize(
    "value", ["wss-nonsense", "ws://127.0.0.1:4599", "http://localhost:4566/_aws/execute-api/abc123/dev", ""]
)
def test_emulated_context_must_be_an_endpoint_without_a_path(value):
    with pytest.raises(ValueError, match="emulated"):
        _config(emulated=value)


def test_config_settings_can_be_tuned_but_stack_settings_cannot():
    env = stack_environment(STACK_VALUES, _config(settings='{"FANOUT_CONCURRENCY": 32}').environment_overrides())
    assert env["FANOUT_CONCURRENCY"] == "32"
    with pytest.raises(ValueError, match="supplied by the stack"):
        _config(settings={"TABLE_NAME": "other"})
    with pytest.raises(ValueError, match="not a declared setting"):
        _config(settings={"SESSIONS_TABLE_NAME": "x"})


def test_powertools_layer_version_can_be_pinned_from_context():
    assert _config().powertools_layer_version is None
    assert _config(powertoolsLayerVersion="41").powertools_layer_version == 41


def test_artifact_kinds_come_from_the_declaration_file_the_handlers_read(tmp_path):
    from session_schema.settings import load_settings

    assert load_settings(stack_environment(STACK_VALUES, _config().environment_overrides())).artifact_kinds.names == [
        "image",
        "frames",
        "recording",
        "transcript",
    ]
    declared = tmp_path / "kinds.json"
    declared.write_text('[{"name": "reference-frames", "contentTypes": ["image/png"], "processor": "stager"}]')
    env = stack_environment(STACK_VALUES, _config(artifactKinds=str(declared)).environment_overrides())
    kinds = load_settings(env).artifact_kinds
    assert kinds.names == ["reference-frames"] and kinds.kinds[0].processor == "stager"
    declared.write_text('[{"name": "page", "contentTypes": ["text/html"]}]')  # served back as a page: never
    with pytest.raises(ValueError, match="(?s)kinds.json.*text/html"):
        _config(artifactKinds=str(declared))
    with pytest.raises(ValueError, match="missing.json"):
        _config(artifactKinds=str(tmp_path / "missing.json"))
