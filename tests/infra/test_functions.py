"""Functions: one code asset, the declared settings as environment, least-privilege roles."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from session_schema.settings import SETTINGS

from infra.bytecode import CACHE_TAG, find_lambda_python
from infra.functions import (
    FUNCTION_SPECS,
    POWERTOOLS_LAYER_NAME,
    POWERTOOLS_LAYER_PARAMETER,
    POWERTOOLS_VERSION,
    powertools_layer_arn,
)
from infra.nag import flatten
from infra.permissions import FUNCTION_ACTIONS, KIND_CONDITIONS
from tests.support.cfn_expr import as_list, get_att, ref

FUNCTIONS = sorted(FUNCTION_SPECS)


def _function(synth, name: str) -> dict:
    return synth.template["Resources"][synth.logical_id(synth.stack.functions[name])]["Properties"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_environment_is_exactly_the_declared_settings(dev, name):
    variables = _function(dev, name)["Environment"]["Variables"]
    assert set(variables) == {setting.env for setting in SETTINGS}
    for setting in SETTINGS:
        if setting.source == "config" and setting.env not in ("FANOUT_WORKER_FUNCTION", "NOTICE_QUEUE_URL"):
            assert variables[setting.env] == setting.default, setting.env


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_schedules_trailing_notices_on_the_notice_queue(dev, name):
    queue = ref(dev.logical_id(dev.stack.notices.queue))
    assert _function(dev, name)["Environment"]["Variables"]["NOTICE_QUEUE_URL"] == queue


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_but_the_worker_dispatches_shards_to_the_worker(dev, name):
    # The worker serves one shard and dispatches none (its own name would be a circular reference).
    worker = ref(dev.logical_id(dev.stack.functions["FanoutWorkerFunction"]))
    expected = "" if name == "FanoutWorkerFunction" else worker
    assert _function(dev, name)["Environment"]["Variables"]["FANOUT_WORKER_FUNCTION"] == expected


@pytest.mark.parametrize("name", FUNCTIONS)
def test_stack_settings_point_at_the_stack_resources(dev, name):
    variables = _function(dev, name)["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == ref(dev.logical_id(dev.stack.table))
    assert variables["ARTIFACTS_BUCKET"] == ref(dev.logical_id(dev.stack.storage.artifacts))
    assert variables["JWT_AUDIENCE"] == ref(dev.logical_id(dev.stack.auth.client))
    assert flatten(variables["JWT_ISSUER"]).startswith("https://cognito-idp.")
    assert f"<{dev.logical_id(dev.stack.auth.user_pool)}>" in flatten(variables["JWT_ISSUER"])
    assert variables["CURSOR_KEY_SECRET"] == ref(dev.logical_id(dev.stack.cursor_key))  # its ARN, never its value


def test_the_cursor_key_is_a_generated_secret_only_the_paging_functions_read(dev):
    (secret_id, secret), *others = dev.resources("AWS::SecretsManager::Secret").items()
    assert others == [] and secret_id == dev.logical_id(dev.stack.cursor_key)
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32 and generated["ExcludePunctuation"] is True
    assert "SecretString" not in secret["Properties"]  # no value in the template
    readers = {name for name in FUNCTIONS if "secretsmanager" in _by_service(_role_statements(dev, name))}
    assert readers == {"HttpSessionFunction", "ConnectionFunction"}  # the two whose listings page
    for name in readers:
        assert _by_service(_role_statements(dev, name))["secretsmanager"] == {
            "actions": {"secretsmanager:GetSecretValue"},
            "resources": {f"<{secret_id}>"},
        }


@pytest.mark.parametrize("name", FUNCTIONS)
def test_ws_callback_url_is_the_https_callback_endpoint_never_wss(dev, name):
    value = _function(dev, name)["Environment"]["Variables"]["WS_CALLBACK_URL"]
    assert "Fn::Join" in value
    parts = value["Fn::Join"][1]
    assert isinstance(parts[0], str) and parts[0].startswith("https://")
    assert ref(dev.logical_id(dev.stack.ws.api)) in parts
    url = flatten(value)
    assert url.endswith(f"/{dev.stack.config.stage}")
    assert "wss" not in url


@pytest.mark.parametrize("name", FUNCTIONS)
def test_runtime_architecture_tracing_and_sizing(dev, name):
    props, spec = _function(dev, name), FUNCTION_SPECS[name]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Handler"] == spec.handler
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout.to_seconds()
    assert props["LoggingConfig"]["LogGroup"]["Ref"] in dev.resources("AWS::Logs::LogGroup")


def test_timeouts_fit_the_api_gateway_integration_limit(dev):
    # API Gateway gives up after 29 s; a handler still running then is a silent failure for the client.
    assert _function(dev, "HttpSessionFunction")["Timeout"] < 29
    assert _function(dev, "ConnectionFunction")["Timeout"] < 29


def test_functions_share_one_code_asset_and_both_layers(dev):
    codes = {flatten(_function(dev, name)["Code"]["S3Key"]) for name in FUNCTIONS}
    assert len(codes) == 1
    dependency_layer = ref(next(iter(dev.resources("AWS::Lambda::LayerVersion"))))
    for name in FUNCTIONS:
        layers = _function(dev, name)["Layers"]
        assert dependency_layer in layers, name
        powertools = [flatten(layer) for layer in layers if layer != dependency_layer]
        # The pinned release's exact ARN, resolved by CloudFormation at deploy time (no guessed number).
        assert powertools == [f"{{{{resolve:ssm:{POWERTOOLS_LAYER_PARAMETER}}}}}"], name
    (layer,) = dev.resources("AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]


def _code_asset(synth) -> Path:
    """The function code folder the assembly uploads (`asset.<hash>` beside the template)."""
    (key,) = {flatten(_function(synth, name)["Code"]["S3Key"]) for name in FUNCTIONS}
    return synth.template_path.parent / f"asset.{key.removesuffix('.zip')}"


def _needs_lambda_python() -> str:
    python = find_lambda_python()
    if python is None:
        pytest.skip("no Python 3.12 on this machine (LAMBDA_PYTHON, PATH, pyenv): the code asset ships source only")
    return python


def test_function_code_ships_unchecked_bytecode_for_lambdas_python(dev):
    """Lambda cannot write __pycache__: every module has its cpython-312 pyc, which Lambda loads without
    comparing mtimes (hash-based, unchecked: flags 0b01); no tests, no other interpreter's bytecode."""
    _needs_lambda_python()
    asset = _code_asset(dev)
    sources = sorted(asset.rglob("*.py"))
    assert {p.relative_to(asset).parts[0] for p in sources} == {
        "connection_handler",
        "http_session_handler",
        "lifecycle_events",
        "session_protocol",
        "session_runtime",
        "session_schema",
        "session_store",
        "upload_handler",
    }
    assert not [p for p in asset.rglob("*") if p.name == "tests" or p.name.startswith("requirements")]
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
        assert pyc.is_file(), f"{source.relative_to(asset)} has no {CACHE_TAG} bytecode"
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01, f"{pyc.name}: not unchecked-hash"
    assert {p.name.split(".")[-2] for p in asset.rglob("*.pyc")} == {CACHE_TAG}


def test_python_312_imports_the_shipped_bytecode_without_the_source(dev, tmp_path):
    """What Lambda does with the asset: with every source replaced by a line that fails, the import still
    works, so it came from the shipped .pyc (and is not compiled at cold start)."""
    python = _needs_lambda_python()
    copy = tmp_path / "task"
    shutil.copytree(_code_asset(dev), copy)
    for source in copy.rglob("*.py"):
        source.write_text("raise SystemExit('the source was read')\n")
    probe = "import session_schema.ids as ids; print(ids.normalize_session_id('quiet-river-482'))"  # stdlib only
    result = subprocess.run([python, "-E", "-s", "-c", probe], cwd=copy, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "quiet-river-482"), result.stderr


def test_dependency_layer_ships_only_bytecode_lambdas_python_can_use(dev):
    (layer,) = dev.resources("AWS::Lambda::LayerVersion").values()
    asset = dev.template_path.parent / f"asset.{flatten(layer['Properties']['Content']['S3Key']).removesuffix('.zip')}"
    pycs = {p.name.split(".")[-2] for p in asset.rglob("*.pyc")}
    assert pycs <= {CACHE_TAG}  # pip's own (this machine's Python) would only take space
    if find_lambda_python() is not None and (asset / "python" / "pydantic" / "__pycache__").is_dir():
        assert (asset / "python" / "pydantic" / "__pycache__" / f"main.{CACHE_TAG}.pyc").is_file()


def test_powertools_layer_is_the_pinned_powertools_release():
    # The handlers are tested against requirements.txt's Powertools; the layer constant names that release.
    requirements = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text()
    pinned = re.search(r"^aws-lambda-powertools(?:\[[^\]]*\])?==([\w.]+)", requirements, re.MULTILINE)
    assert pinned, "requirements.txt must pin aws-lambda-powertools"
    assert pinned.group(1) == POWERTOOLS_VERSION, "bump POWERTOOLS_VERSION with requirements.txt"
    assert POWERTOOLS_LAYER_PARAMETER == f"/aws/service/powertools/python/arm64/python3.12/{POWERTOOLS_VERSION}"


def test_a_pinned_layer_version_names_the_public_layer_in_the_stack_region():
    import aws_cdk as cdk

    stack = cdk.Stack(cdk.App(), "PinProbe", env=cdk.Environment(region="eu-west-1", account="123456789012"))
    arn = powertools_layer_arn(stack, 41)
    assert arn == f"arn:aws:lambda:eu-west-1:017000801446:layer:{POWERTOOLS_LAYER_NAME}:41"


# --- IAM -------------------------------------------------------------------------------------------


def _role_statements(synth, name: str) -> list[dict]:
    role_id = synth.logical_id(synth.stack.functions[name].role)
    role = synth.template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role, f"{name}: no AWS managed policies (e.g. AWSLambdaBasicExecutionRole)"
    statements = [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if ref(role_id) in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    assert statements and all(s["Effect"] == "Allow" for s in statements)
    return statements


def _by_service(statements: list[dict]) -> dict[str, dict[str, set]]:
    """service -> {"actions": {...}, "resources": {...}} (resources flattened to text)."""
    grouped: dict[str, dict[str, set]] = {}
    for statement in statements:
        services = {action.split(":")[0] for action in as_list(statement["Action"])}
        assert len(services) == 1, f"one service per statement keeps scoping readable: {statement}"
        entry = grouped.setdefault(services.pop(), {"actions": set(), "resources": set()})
        entry["actions"] |= set(as_list(statement["Action"]))
        entry["resources"] |= {flatten(r) for r in as_list(statement["Resource"])}
    return grouped


def _expected_resources(synth, kind: str, name: str) -> set[str]:
    table = f"<{synth.logical_id(synth.stack.table)}.Arn>"
    bucket = f"<{synth.logical_id(synth.stack.storage.artifacts)}.Arn>"
    api, stage = synth.logical_id(synth.stack.ws.api), synth.stack.config.stage
    return {
        "table": {table, f"{table}/index/*"},
        "artifacts": {f"{bucket}/*"},
        "worker": {f"<{synth.logical_id(synth.stack.functions['FanoutWorkerFunction'])}.Arn>"},
        "cursor_key": {f"<{synth.logical_id(synth.stack.cursor_key)}>"},  # a secret's Ref is its ARN
        "bus": {f"<{synth.logical_id(synth.stack.lifecycle.bus)}.Arn>"},
        "connections": {
            f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{api}>/{stage}/{method}/@connections/*"
            for method in MANAGEMENT_METHODS.get(name, ())
        },
    }[kind]


# Written out here, not read from infra.permissions: the handlers post to connections and delete them
# (session_runtime.fanout); the sweep and a full session's join ask whether one exists (get_connection: GET),
# to find ghosts.
MANAGEMENT_METHODS = {
    "HttpSessionFunction": ("POST", "DELETE"),
    "ConnectionFunction": ("POST", "DELETE", "GET"),
    "SweepFunction": ("POST", "DELETE", "GET"),
    "FanoutWorkerFunction": ("POST", "DELETE"),  # its shard's posts, and closing listeners after an end
    "UploadFunction": ("POST",),  # artifactUpdated to the session (its listeners are never closed from there)
}

_SERVICE_OF_KIND = {
    "table": "dynamodb",
    "artifacts": "s3",
    "connections": "execute-api",
    "worker": "lambda",
    "cursor_key": "secretsmanager",
    "bus": "events",
}
# The notice queue's messages, received by its event source mapping with the fan-out worker's role (the actions
# Lambda checks the role for), besides the SendMessage the worker's own code may make: written out here too.
NOTICE_CONSUMERS = {"FanoutWorkerFunction": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}}
# What Lambda's event source mapping reads with the function's role (infra/permissions.py EVENT_SOURCE_ACTIONS),
# written out here: the table's stream, and ListStreams, which has no resource-level permission.
STREAM_READERS = {"LifecycleEventsFunction"}
# The disconnect queue's messages, received by its mapping with the connection function's role
# (infra/disconnect_queue.py).
DISCONNECT_CONSUMERS = {"ConnectionFunction": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_role_grants_exactly_the_declared_actions_on_the_declared_resources(dev, name):
    statements = _role_statements(dev, name)
    # The notice queue's grants apart from a dead-letter queue's (both SQS): judged by resource.
    queue = f"<{dev.logical_id(dev.stack.notices.queue)}.Arn>"
    on_notices = [s for s in statements if queue in {flatten(r) for r in as_list(s["Resource"])}]
    notices = _by_service(on_notices)
    if name in NOTICE_CONSUMERS:
        notices["sqs"]["actions"] -= NOTICE_CONSUMERS[name]
    if "notices" in FUNCTION_ACTIONS[name]:
        assert notices == {"sqs": {"actions": set(FUNCTION_ACTIONS[name]["notices"]), "resources": {queue}}}, name
    else:
        assert notices == {}, name
    # The bucket listing's grant apart from the object grants (both S3): judged by its statement's Sid.
    listing = [s for s in statements if s.get("Sid") == "ArtifactsListingAccess"]
    bucket = f"<{dev.logical_id(dev.stack.storage.artifacts)}.Arn>"
    expected_listing = {"actions": set(FUNCTION_ACTIONS[name].get("artifacts_listing", ())), "resources": {bucket}}
    assert _by_service(listing) == ({"s3": expected_listing} if expected_listing["actions"] else {}), name
    statements = [s for s in statements if s not in listing]
    apart = ("notices", "artifacts_listing")  # judged above
    declared = {kind: actions for kind, actions in FUNCTION_ACTIONS[name].items() if kind not in apart}
    conditioned = [s for s in statements if "Condition" in s]
    assert [s.get("Sid") for s in conditioned] == [
        kind.title().replace("_", "") + "Access" for kind in declared if kind in KIND_CONDITIONS
    ], name
    disconnect_queue = f"<{dev.logical_id(dev.stack.disconnects.queue)}.Arn>"
    on_disconnects = [s for s in statements if disconnect_queue in {flatten(r) for r in as_list(s["Resource"])}]
    expected = {"sqs": {"actions": DISCONNECT_CONSUMERS.get(name), "resources": {disconnect_queue}}}
    assert _by_service(on_disconnects) == (expected if name in DISCONNECT_CONSUMERS else {}), name
    grouped = _by_service([s for s in statements if s not in on_notices + on_disconnects and s not in conditioned])
    for kind in [kind for kind in declared if kind in KIND_CONDITIONS]:
        _assert_occupancy_statement(dev, conditioned, kind, declared.pop(kind))
    if name in STREAM_READERS:
        assert "table" not in declared, "a stream reader's dynamodb grants are its stream's only"
        assert grouped.pop("dynamodb") == {
            "actions": {
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            },
            "resources": {f"<{dev.logical_id(dev.stack.table)}.StreamArn>", "*"},
        }
    for kind, service in _SERVICE_OF_KIND.items():
        if kind not in declared:
            assert service not in grouped, f"{name} must not have {service} access"
            continue
        assert grouped[service]["actions"] == set(declared[kind]), f"{name} {service} actions"
        assert grouped[service]["resources"] == _expected_resources(dev, kind, name), f"{name} {service} resources"

    # Besides the declared resources: its own log group, and X-Ray (which has no resource-level permissions).
    log_group = dev.template["Resources"][dev.logical_id(dev.stack.functions[name])]["Properties"]["LoggingConfig"]
    assert grouped["logs"] == {
        "actions": {"logs:CreateLogStream", "logs:PutLogEvents"},
        "resources": {f"<{log_group['LogGroup']['Ref']}.Arn>"},
    }
    assert grouped["xray"] == {"actions": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, "resources": {"*"}}
    failures = {
        "SweepFunction": dev.stack.sweep.failures,
        "FanoutWorkerFunction": dev.stack.fanout_shard_failures,
        "LifecycleEventsFunction": dev.stack.lifecycle.failures,  # the event source mapping's on-failure destination
        "UploadFunction": dev.stack.upload_failures,
    }
    if name in failures:
        # Lambda sends a failed run's record to the function's dead-letter queue with the function's role (CDK's
        # SqsDestination grant: SendMessage plus the two reads it pairs with), on that one queue only.
        queue = f"<{dev.logical_id(failures[name])}.Arn>"
        assert grouped.pop("sqs") == {
            "actions": {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
            "resources": {queue},
        }
    assert set(grouped) <= {"dynamodb", "s3", "execute-api", "lambda", "secretsmanager", "events", "logs", "xray"}, name


# Written out here, not read from infra.permissions: a keynote session's reads (its item, its seat shards) and the
# occupancy item's write, told apart by IAM conditions (a sort key cannot be named in IAM).
OCCUPANCY_CONDITIONS = {
    "occupancy_read": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SESSION#*", "SEATS#*"]}},
    "occupancy_write": {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SESSION#*"]},
        "ForAllValues:StringEquals": {
            "dynamodb:Attributes": [
                "PK", "SK", "entity", "occupancyVersion", "occupiedChannels", "occupiedListeners", "ownerId",
                "schemaVersion", "sessionId",
            ]
        },
        "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE"]},
    },
}  # fmt: skip


def _assert_occupancy_statement(dev, statements: list[dict], kind: str, actions: tuple[str, ...]) -> None:
    (statement,) = [s for s in statements if s["Sid"] == kind.title().replace("_", "") + "Access"]
    assert set(as_list(statement["Action"])) == set(actions)
    assert {flatten(r) for r in as_list(statement["Resource"])} == {f"<{dev.logical_id(dev.stack.table)}.Arn>"}
    assert statement["Condition"] == OCCUPANCY_CONDITIONS[kind]


def test_only_the_lifecycle_function_reads_keynote_seats_and_writes_occupancy_under_conditions(dev):
    for name in FUNCTIONS:
        has = {kind for kind in FUNCTION_ACTIONS[name] if kind in KIND_CONDITIONS}
        assert has == ({"occupancy_read", "occupancy_write"} if name == "LifecycleEventsFunction" else set()), name
    assert "dynamodb:PutItem" not in FUNCTION_ACTIONS["LifecycleEventsFunction"]["occupancy_write"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_no_wildcard_actions_and_star_resource_only_for_xray(dev, name):
    for statement in _role_statements(dev, name):
        assert all("*" not in action for action in as_list(statement["Action"])), statement
        if "*" in as_list(statement["Resource"]):
            no_resource_level = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
            assert set(as_list(statement["Action"])) <= no_resource_level, statement


def test_only_the_http_upload_and_sweep_functions_touch_the_bucket_and_only_its_objects(dev):
    with_s3 = {name for name in FUNCTIONS if "s3" in _by_service(_role_statements(dev, name))}
    assert with_s3 == {"HttpSessionFunction", "UploadFunction", "SweepFunction"}
    http = _role_statements(dev, "HttpSessionFunction")
    listing = [s for s in http if s.get("Sid") == "ArtifactsListingAccess"]
    s3 = _by_service([s for s in http if s not in listing])["s3"]
    assert all(r.endswith("/*") for r in s3["resources"])
    # Signing presigned uploads needs PutObject, deleting an artifact DeleteObject, a shared download GetObject.
    assert s3["actions"] == {"s3:PutObject", "s3:DeleteObject", "s3:GetObject"}
    # Deleting an artifact lists its tree's prefix: ListBucket, the one grant on the bucket itself.
    bucket = f"<{dev.logical_id(dev.stack.storage.artifacts)}.Arn>"
    assert _by_service(listing) == {"s3": {"actions": {"s3:ListBucket"}, "resources": {bucket}}}
    # The upload function reads an object's first bytes, nothing else.
    uploads = _by_service(_role_statements(dev, "UploadFunction"))["s3"]
    assert uploads["actions"] == {"s3:GetObject"} and all(r.endswith("/*") for r in uploads["resources"])
    # The sweep reads an upload whose notification never came, and deletes an ended session's objects when its
    # retention ends.
    sweep = _by_service(_role_statements(dev, "SweepFunction"))["s3"]
    assert sweep["actions"] == {"s3:GetObject", "s3:DeleteObject"} and all(r.endswith("/*") for r in sweep["resources"])


def test_every_object_created_in_the_artifacts_bucket_invokes_the_upload_function(dev):
    (notification,) = dev.resources("Custom::S3BucketNotifications").values()
    (config,) = notification["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["LambdaFunctionArn"] == get_att(dev.logical_id(dev.stack.functions["UploadFunction"]), "Arn")
    assert notification["Properties"]["BucketName"] == ref(dev.logical_id(dev.stack.storage.artifacts))


def test_the_sweep_role_has_only_what_ending_and_fanning_out_needs(dev):
    # change_status (UpdateItem), keeping the end's two stream events (a transaction of two PutItems),
    # iter_speakerless / iter_connections (Query), a gone connection's unregister (GetItem + a transaction of
    # DeleteItem, DeleteItem, UpdateItem): no ConditionCheck element; the half-registration pass reads a
    # session's lookup items in batches (BatchGetItem).
    grouped = _by_service(_role_statements(dev, "SweepFunction"))
    assert grouped["dynamodb"]["actions"] == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:BatchGetItem",
    }
    assert grouped["execute-api"]["actions"] == {"execute-api:ManageConnections"}


def test_sweep_runs_every_five_minutes(dev):
    (rule,) = dev.resources("AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"]["State"] == "ENABLED"
    sweep = dev.logical_id(dev.stack.functions["SweepFunction"])
    assert [target["Arn"] for target in rule["Properties"]["Targets"]] == [get_att(sweep)]
    invoke = [
        p["Properties"]
        for p in dev.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    ]
    assert [p["FunctionName"] for p in invoke] == [get_att(sweep)]


# --- concurrency -----------------------------------------------------------------------------------


def test_reserved_concurrency_and_the_local_pools_come_from_one_declaration(dev):
    from session_schema.functions import FUNCTIONS, FUNCTIONS_BY_NAME

    from local.lambda_service.lambda_pools import Functions, HandlerSpec, PoolSettings

    local = Functions(HandlerSpec(), {}, PoolSettings())  # no process starts until start()
    try:
        assert set(FUNCTION_SPECS) == set(FUNCTIONS_BY_NAME) == set(local.functions)
        for declared in FUNCTIONS:
            deployed = _function(dev, declared.name)
            assert deployed["ReservedConcurrentExecutions"] == declared.reserved_concurrency, declared.name
            assert local.pool(declared.name).limit == declared.reserved_concurrency, declared.name
            assert deployed["Timeout"] == local.pool(declared.name).timeout_seconds == declared.timeout_seconds
    finally:
        local.stop()


def test_the_connection_function_cannot_starve_the_others(dev):
    # Reserved concurrency caps the busiest function and guarantees the HTTP function and the sweep theirs;
    # Lambda keeps 100 of the account's default 1,000 unreserved, so the reservations must fit in 900.
    reserved = {name: _function(dev, name).get("ReservedConcurrentExecutions") for name in FUNCTIONS}
    assert all(isinstance(value, int) and value >= 1 for value in reserved.values()), reserved
    assert sum(reserved.values()) <= 900


def test_an_account_with_a_small_quota_can_turn_the_reservations_off(dev):
    # A new account's Lambda quota (often 10) cannot hold the reservations plus the 100 Lambda keeps
    # unreserved, and CloudFormation would fail the deploy: `-c reservedConcurrency=false` leaves them out.
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.config import StackConfig, load_config
    from infra.functions import build_functions

    assert dev.stack.config.reserved_concurrency is True  # the default keeps them
    app = cdk.App(context={"reservedConcurrency": "false"})
    assert load_config(app.node).reserved_concurrency is False
    stack = cdk.Stack(app, "SmallQuota")
    build_functions(stack, StackConfig(stage="dev", reserved_concurrency=False))
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    assert functions and all("ReservedConcurrentExecutions" not in f["Properties"] for f in functions.values())
