"""Emulated deploy (`-c emulated=http://127.0.0.1:<port>`): the same stack, deployed into ministack.

`python -m infra.emulate` starts the emulator and deploys with this context. What differs from the real
template, each done where that part is built and only when `StackConfig.is_emulated`:

- stack env: account 000000000000, region us-east-1 (the emulator's own; infra/build.py);
- WS_CALLBACK_URL: `<endpoint>/_aws/execute-api/<wsApiId>/<stage>`, the emulator's @connections endpoint
  (the real `https://<id>.execute-api.<region>.amazonaws.com/<stage>` is not reachable offline). It still
  goes through `session_schema.settings.stack_environment`; handler code has no special case;
- JWKS_URL: `<endpoint>/<userPoolId>/.well-known/jwks.json`, where the emulator publishes the pool's signing
  keys (the default, `<issuer>/.well-known/jwks.json`, is on AWS). The issuer stays the real Cognito URL:
  the emulator's tokens carry exactly that `iss`;
- stack outputs HttpApiUrl / WebSocketUrl / WebSocketCallbackUrl: the emulator's URLs (below);
- no `AWS::ApiGatewayV2::RouteResponse` (infra/websocket_api.py): the emulator's CloudFormation has no
  handler for that type and fails the whole deploy. The emulator sends a route's response body back
  with or without one (AWS only with one), so clients see the same frames;
- no auto-delete of bucket objects on stack deletion (infra/storage.py): CDK's custom resource for it is a
  Node.js Lambda importing the runtime's `@aws-sdk/client-s3`, which the emulator's local executor lacks
  (the deploy hangs on it). The buckets are still deleted with the stack when empty;
- no DynamoDB throttling alarm (infra/alarms.py): a metric-math alarm, which the emulator's CloudFormation
  refuses (`Properties.Metrics`); the other alarms are created as usual;
- `$disconnect` invokes the connection function (a Lambda integration) instead of going to the disconnect queue
  (infra/websocket_api.py): the emulator runs every WebSocket integration of type AWS as a Lambda one. The queue and
  its mapping are deployed all the same (and receive nothing);
- no Lambda layers (infra/functions.py): the public Powertools layer is not held by the emulator, and the
  dependency layer is built for python3.12/aarch64 while the emulator runs every Python Lambda on its own
  interpreter (the host's), importing its own site-packages. The emulator's venv (.emulator/venv,
  requirements-emulator.txt) therefore carries what the two layers carry in AWS, at the same pins.

Unchanged on purpose: IAM (the emulator does not enforce it; tests/infra checks the policies), cdk-nag
(still runs and must pass), the API Gateway account role, the other alarms, access logs, TTL, PITR, the
function settings (runtime python3.12/arm64 is declared, but the emulator runs the host's Python).

Emulator behaviour that differs from AWS at run time (not papered over in handler code): a refused
`$connect` is HTTP 403 whatever status the handler returned; IAM is not enforced; Lambdas run on the
emulator venv's interpreter and packages. infra/emulate.py patches one ministack 1.5.33 bug in the
emulator process (a `"body": null` proxy response became a 500).
"""

from __future__ import annotations

from aws_cdk import Fn

EMULATOR_ACCOUNT = "000000000000"
EMULATOR_REGION = "us-east-1"


def http_api_url(endpoint: str, api_id: str) -> str:
    """Base URL of an HTTP API's `$default` stage on the emulator (no stage segment needed)."""
    return Fn.join("", [endpoint, "/_aws/execute-api/", api_id])


def websocket_url(endpoint: str, api_id: str, stage_name: str) -> str:
    """ws:// URL clients connect to."""
    ws_endpoint = "ws" + endpoint[len("http") :]  # http -> ws, https -> wss
    return Fn.join("", [ws_endpoint, "/_aws/execute-api/", api_id, "/", stage_name])


def callback_url(endpoint: str, api_id: str, stage_name: str) -> str:
    """The @connections management endpoint (what post_to_connection talks to)."""
    return Fn.join("", [endpoint, "/_aws/execute-api/", api_id, "/", stage_name])


def jwks_url(endpoint: str, user_pool_id: str) -> str:
    return Fn.join("", [endpoint, "/", user_pool_id, "/.well-known/jwks.json"])
