"""The AWS side of the local stack: an embedded DynamoDB + S3 (moto server), the table and the bucket.

The table is created from `session_schema.keys.TABLE` (the definition the CDK stack deploys), never by
hand; the bucket gets a CORS rule so a browser can POST to the presigned upload forms the handlers issue.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from session_schema.keys import TABLE
from session_schema.storage import UPLOAD_CORS_HEADERS, UPLOAD_CORS_MAX_AGE_SECONDS, UPLOAD_CORS_METHODS

logger = logging.getLogger("local.aws")

REGION = "us-east-1"
FAKE_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})

# Browsers upload artifacts straight to the presigned form; the same rule as the deployed bucket.
BUCKET_CORS = {
    "CORSRules": [
        {
            "AllowedMethods": list(UPLOAD_CORS_METHODS),
            "AllowedOrigins": ["*"],
            "AllowedHeaders": list(UPLOAD_CORS_HEADERS),
            "MaxAgeSeconds": UPLOAD_CORS_MAX_AGE_SECONDS,
        }
    ]
}


@dataclass(frozen=True)
class DynamoDbAccess:
    """How the stack and its handlers sign their requests to DynamoDB (see `dynamodb_access`)."""

    user_credentials: bool  # False: FAKE_CREDENTIALS
    region: str


# dynamodb[-fips].<region>.amazonaws.com[.cn], also behind a VPC endpoint (...dynamodb.<region>.vpce.amazonaws.com).
_AWS_DYNAMODB_HOST = re.compile(
    r"(?:^|\.)dynamodb(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$"
)


def is_loopback(endpoint_url: str) -> bool:
    """True for an endpoint on this machine (localhost, 127.0.0.0/8, ::1)."""
    host = (urlsplit(endpoint_url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dynamodb_access(endpoint_url: str | None) -> DynamoDbAccess:
    """The credentials and region for DynamoDB at `endpoint_url` (None: the embedded moto).

    - The embedded moto, or an endpoint on this machine (DynamoDB Local, LocalStack): FAKE_CREDENTIALS in
      us-east-1. Any credentials work there, so the developer's are never sent; and DynamoDB Local keeps
      one database per access key and region (unless -sharedDb), so fixed ones find the same data on
      every run, whatever credentials the shell has today.
    - Anything else (a real table, or DynamoDB Local on another host): the developer's own credentials,
      resolved as the AWS CLI would (environment, AWS_PROFILE, SSO, ...), and the region in the endpoint's
      name (dynamodb.<region>.amazonaws.com), else the configured one, else us-east-1. If no credentials
      resolve, the fake ones (an endpoint that needs none).
    Read before the stack puts the handlers' environment in place (it replaces the credentials otherwise).
    """
    if endpoint_url is None or is_loopback(endpoint_url):
        return DynamoDbAccess(user_credentials=False, region=REGION)
    session = boto3.session.Session()  # raises ProfileNotFound for an AWS_PROFILE that does not exist
    if session.get_credentials() is None:
        return DynamoDbAccess(user_credentials=False, region=REGION)
    named = _AWS_DYNAMODB_HOST.search((urlsplit(endpoint_url).hostname or "").lower())
    return DynamoDbAccess(user_credentials=True, region=named.group(1) if named else session.region_name or REGION)


def client(service: str, endpoint_url: str, access: DynamoDbAccess | None = None) -> Any:
    """A boto3 client for `endpoint_url`: fake credentials in us-east-1 unless `access` says otherwise
    (the developer's real credentials are used only for a DynamoDB that needs them)."""
    if access is not None and access.user_credentials:
        session = boto3.session.Session(region_name=access.region)
    else:
        region = access.region if access is not None else REGION
        session = boto3.session.Session(region_name=region, **FAKE_CREDENTIALS)
    return session.client(service, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)


class EmbeddedMoto:
    """moto's server (DynamoDB, S3 and the rest) on a free 127.0.0.1 port, in its own process.

    Its own process, so its request threads do not share an interpreter lock with the gateways (whose
    threads starved its accept loop under a burst: the handlers' 1 s connect timeout then fired), and
    it uses a core of its own (local/dynamodb/moto_process.py). `patches` are dotted names of functions it calls
    before serving (the fan-out bench's faster serializer). It exits when the stack stops, or when the
    stack's process dies (its stdin closes).

    Requests are applied one at a time. moto's backends are not thread-safe (a TransactWriteItems
    deep-copies the table while another request mutates it: 500s, and conditions checked against a
    moving table), while the local stack runs many handlers at once. Serialized, every conditional
    write and transaction is atomic, as DynamoDB guarantees.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        patches: tuple[str, ...] = (),
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self._host, self._port, self._patches = host, port, patches
        self._environment = dict(environment or {})  # added to its process's (local/s3's notifications)
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        """Bind its port and start its process; the URL is known at once (requests queue until it serves)."""
        import socket

        from local import LAMBDAS_DIR, REPO_ROOT

        listener = socket.create_server((self._host, self._port), backlog=1024)
        host, port = listener.getsockname()[:2]
        env = dict(os.environ) | self._environment
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), str(LAMBDAS_DIR), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "local.dynamodb.moto_process", str(listener.fileno()), *self._patches]
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(listener.fileno(),)
            )
        finally:
            listener.close()
        self.url = f"http://{host}:{port}"
        return self.url

    def wait_ready(self) -> None:
        """Until it serves (it prints `ready` after its imports)."""
        assert self._process is not None and self._process.stdout is not None
        if self._process.stdout.readline().strip() != b"ready":
            self.stop()
            raise RuntimeError("the embedded moto server did not start")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()  # the server's process exits when its stdin closes
        process.stdout.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _serialized(app: Any) -> Any:
    lock = threading.Lock()

    def serialized_app(environ: dict, start_response: Any) -> list[bytes]:
        # Read the request body before taking the lock: a slow upload must not hold up the table.
        stream = environ.get("wsgi.input")
        if stream is not None:
            length = environ.get("CONTENT_LENGTH")
            if length and length.isdigit():
                environ["wsgi.input"] = io.BytesIO(stream.read(int(length)))
            elif environ.get("wsgi.input_terminated"):
                environ["wsgi.input"] = io.BytesIO(stream.read())
        with lock:
            result = app(environ, start_response)
            try:
                return list(result)  # the whole response is computed under the lock
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

    return serialized_app


def ensure_table(
    endpoint_url: str, table_name: str, access: DynamoDbAccess | None = None, *, stream_view_type: str | None = None
) -> bool:
    """Create the single table from TABLE if it is missing (with a stream of `stream_view_type`, as the CDK stack
    gives it one), then wait until it is ACTIVE. True if created."""
    ddb = client("dynamodb", endpoint_url, access)
    created = False
    stream = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": stream_view_type}}
    try:
        ddb.create_table(**TABLE.create_table_kwargs(table_name), **(stream if stream_view_type else {}))
        created = True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    deadline = time.monotonic() + 60
    while True:
        status = ddb.describe_table(TableName=table_name)["Table"]["TableStatus"]
        if status == "ACTIVE":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"table {table_name} is still {status} after 60 s")
        time.sleep(0.2)
    if stream_view_type and not created:
        _ensure_stream(ddb, table_name, stream)
    try:
        ddb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TABLE.ttl_attribute},
        )
    except ClientError as error:
        # Already enabled (a reused DynamoDB Local table), or an emulator without TTL: not fatal locally.
        logger.debug("update_time_to_live: %s", error)
    return created


def _ensure_stream(ddb: Any, table_name: str, stream: dict[str, Any]) -> None:
    """A table found (DynamoDB Local kept it) gets its stream too, unless it already streams."""
    if ddb.describe_table(TableName=table_name)["Table"].get("StreamSpecification", {}).get("StreamEnabled"):
        return
    try:
        ddb.update_table(TableName=table_name, **stream)
    except ClientError as error:
        logger.warning("table %s has no stream, and enabling one failed: %s", table_name, error)


def ensure_bucket(endpoint_url: str, bucket: str, region: str = REGION) -> None:
    """Create the bucket (in the embedded moto: fake credentials) in `region`, the handlers' region."""
    s3 = client("s3", endpoint_url, DynamoDbAccess(user_credentials=False, region=region))
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=bucket, **location)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=BUCKET_CORS)
