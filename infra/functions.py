"""The Lambda functions (declared in session_schema.functions), their layers, log groups and roles. All share ONE
code asset (`lambdas/`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnDynamicReference, CfnDynamicReferenceService, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from session_schema.functions import CONNECTION_FUNCTION as CONNECTION_FUNCTION  # re-exported for the stack
from session_schema.functions import FANOUT_WORKER_FUNCTION as FANOUT_WORKER_FUNCTION
from session_schema.functions import FUNCTIONS
from session_schema.functions import HTTP_FUNCTION as HTTP_FUNCTION
from session_schema.functions import LIFECYCLE_EVENTS_FUNCTION as LIFECYCLE_EVENTS_FUNCTION
from session_schema.functions import SWEEP_FUNCTION as SWEEP_FUNCTION
from session_schema.functions import UPLOAD_FUNCTION as UPLOAD_FUNCTION

from infra import bytecode
from infra.config import StackConfig

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = ROOT / "lambdas"
LAYER_DIR = ROOT / "build" / "layer"  # built by `make layer` (pip --platform manylinux2014_aarch64, cp312)

# Python 3.12 on Graviton: arm64 is ~20% cheaper per GB-second than x86_64 at equal or better speed,
# and every dependency in the layer ships aarch64 wheels (see LAYER_TARGET in the Makefile).
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64

# Public Powertools layer of the release requirements.txt pins (the handlers are tested against it),
# published by AWS in account 017000801446. Its version number is sequential per layer, not semantic, so
# the template does not guess it: CloudFormation resolves the exact ARN at deploy time from the public
# SSM parameter Powertools publishes for each release (`{{resolve:ssm:...}}` below); the deploy fails
# loudly if that release has no parameter in the region. `-c powertoolsLayerVersion=N` pins a layer
# version by number instead.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python312-arm64"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/arm64/python3.12/{POWERTOOLS_VERSION}"


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    description: str
    memory_mb: int
    timeout: Duration
    reserved_concurrency: int


# Every value comes from the one declaration (session_schema.functions), which the local stack reads too.
FUNCTION_SPECS: dict[str, FunctionSpec] = {
    declared.name: FunctionSpec(
        handler=declared.handler,
        description=declared.description,
        memory_mb=declared.memory_mb,
        timeout=Duration.seconds(declared.timeout_seconds),
        reserved_concurrency=declared.reserved_concurrency,
    )
    for declared in FUNCTIONS
}


def powertools_layer_arn(scope: Construct, version: int | None = None) -> str:
    """The public Powertools layer: version `version` of it, or by default the pinned release's ARN as
    CloudFormation resolves it from POWERTOOLS_LAYER_PARAMETER in the deploy region."""
    if version is None:
        return CfnDynamicReference(CfnDynamicReferenceService.SSM, POWERTOOLS_LAYER_PARAMETER).to_string()
    region = Stack.of(scope).region
    return f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{POWERTOOLS_LAYER_NAME}:{version}"


def _dependency_layer_code() -> lambda_.Code:
    if not (LAYER_DIR / "python").is_dir():
        raise FileNotFoundError(
            f"the dependency layer is not built ({LAYER_DIR / 'python'} is missing): run `make layer` first"
        )
    # Only bytecode Lambda's Python can use (`make layer` compiles it; pip's own is for this machine's Python).
    pycs = [".built", "**/*.pyc", f"!**/*.{bytecode.CACHE_TAG}.pyc"]
    return lambda_.Code.from_asset(str(LAYER_DIR), exclude=pycs)


def _layers(scope: Construct, config: StackConfig) -> list[lambda_.ILayerVersion]:
    """Powertools (public layer) and the handler dependencies (built by `make layer`).

    An emulated deploy has none (infra/emulator.py): the emulator does not hold the public layer, and runs
    Lambdas on its own interpreter, whose venv carries the same pinned packages (requirements-emulator.txt).
    """
    return [
        lambda_.LayerVersion.from_layer_version_arn(
            scope, "PowertoolsLayer", powertools_layer_arn(scope, config.powertools_layer_version)
        ),
        lambda_.LayerVersion(
            scope,
            "DependencyLayer",
            code=_dependency_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Handler dependencies from lambdas/requirements.txt (pydantic, PyJWT, cryptography, httptools)",
            removal_policy=config.removal_policy,
        ),
    ]


def build_functions(scope: Construct, config: StackConfig) -> dict[str, lambda_.Function]:
    """The functions, without environment or resource permissions (the stack wires those in later)."""
    # lambdas/ without tests or caches, compiled for Lambda's Python (infra/bytecode.py): no compile per cold start.
    code = lambda_.Code.from_asset(str(bytecode.function_code(LAMBDAS_DIR)))
    layers = [] if config.is_emulated else _layers(scope, config)
    functions: dict[str, lambda_.Function] = {}
    for name, spec in FUNCTION_SPECS.items():
        log_group = logs.LogGroup(
            scope, f"{name}Logs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        role = iam.Role(
            scope,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: its own log group, X-Ray, and the resources in infra/permissions.py",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        functions[name] = lambda_.Function(
            scope,
            name,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=code,
            layers=layers,
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            reserved_concurrent_executions=spec.reserved_concurrency if config.reserved_concurrency else None,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
        )
    return functions


def set_environment(functions: Mapping[str, lambda_.Function], environment: Mapping[str, str]) -> None:
    """Give every function the same environment (from session_schema.settings.stack_environment)."""
    for function in functions.values():
        for name, value in environment.items():
            function.add_environment(name, value)


def dispatch_shards_to(functions: Mapping[str, lambda_.Function], worker_name: str) -> None:
    """Tell the functions that fan out which worker takes a large fan-out's shards (FANOUT_WORKER_FUNCTION):
    every function but the worker itself, whose own name in its environment would be a circular reference."""
    worker = functions[worker_name]
    for name, function in functions.items():
        if name != worker_name:
            function.add_environment("FANOUT_WORKER_FUNCTION", worker.function_name)
