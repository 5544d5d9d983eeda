"""Another DynamoDB: a standalone moto server on a free port that records who signed each request it gets
(the e2e tests of `--dynamodb-endpoint`, ghost seats after a crash and stream recovery after a restart). It
applies one request at a time, as the local stack's embedded one does: moto's server would otherwise run two
transactions at once, and both could pass a condition only one of them may (DynamoDB isolates them)."""

from __future__ import annotations

import re
import threading
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class OtherDynamoDb:
    """A standalone moto server on a free port; `requests` lists (operation, access key, region, token?)."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.requests: list[dict[str, Any]] = []

    def __enter__(self) -> OtherDynamoDb:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        wsgi = self._server._server  # werkzeug's server: wrap its app to record each request
        assert wsgi is not None
        app = wsgi.app

        one_at_a_time = threading.Lock()  # moto's server applies requests concurrently; DynamoDB isolates each

        def recording(environ: dict, start_response: Any) -> Any:
            with one_at_a_time:
                return list(serve(environ, start_response))

        def serve(environ: dict, start_response: Any) -> Any:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            signed = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
            self.requests.append(
                {
                    "operation": target.rpartition(".")[2],
                    "key": signed and signed.group(1),
                    "region": signed and signed.group(2),
                    "service": signed and signed.group(3),
                    "session_token": environ.get("HTTP_X_AMZ_SECURITY_TOKEN"),
                }
            )
            return app(environ, start_response)

        wsgi.app = recording
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def operations(self) -> set[str]:
        return {r["operation"] for r in self.requests}

    def table_items(self, table: str, region: str) -> list[dict[str, Any]]:
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="check",
            aws_secret_access_key="check",
        )
        return ddb.scan(TableName=table)["Items"]
