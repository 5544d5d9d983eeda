"""A minimal SQS for the local stack: `SendMessage` (SQS's JSON protocol, which boto3 speaks) on its own port, each
message held for its whole-second `DelaySeconds`, then handed to the queue's function as Lambda's SQS event source
mapping would (`{"Records": [{"eventSource": "aws:sqs", "body", ...}]}`, one record a batch), in that function's
own execution environments (the local Lambda pools). A failed invocation is delivered again after the visibility
timeout, at most `max_receives` times (then kept in `failures`, the dead-letter queue's stand-in).

Only what the handlers call: no ReceiveMessage (the event source mapping is this module), no FIFO, no attributes.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local import SHUTDOWN_POLL_SECONDS

logger = logging.getLogger("local.sqs")

Invoke = Callable[[Mapping[str, Any]], Any]
MAX_DELAY_SECONDS = 900  # SQS's own bound


class DelayQueue:
    """Messages waiting out their delay, then delivered to `invoke` on their own thread each."""

    def __init__(
        self, arn: str, invoke: Invoke, *, visibility_timeout_seconds: float = 2.0, max_receives: int = 3
    ) -> None:
        self.arn = arn
        self.invoke = invoke
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.max_receives = max_receives
        self.failures: list[dict[str, Any]] = []
        self.delivered = 0
        self._heap: list[tuple[float, int, dict[str, Any], int]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="local-sqs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._thread.join(timeout=5)

    def send(self, body: str, delay_seconds: int) -> str:
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"DelaySeconds is 0 to {MAX_DELAY_SECONDS}")
        message_id = str(uuid.uuid4())
        record = {
            "messageId": message_id,
            "receiptHandle": message_id,
            "body": body,
            "attributes": {"SentTimestamp": str(int(time.time() * 1000))},
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum, not security
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": self.arn.split(":")[3],
        }
        self._push(time.monotonic() + delay_seconds, record, 0)
        return message_id

    def _push(self, at: float, record: dict[str, Any], receives: int) -> None:
        with self._wake:
            heapq.heappush(self._heap, (at, next(self._order), record, receives))
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, record, receives = heapq.heappop(self._heap)
            threading.Thread(target=self._deliver, args=(record, receives + 1), daemon=True).start()

    def _deliver(self, record: dict[str, Any], receives: int) -> None:
        try:
            self.invoke(
                {
                    "Records": [
                        {**record, "attributes": {**record["attributes"], "ApproximateReceiveCount": str(receives)}}
                    ]
                }
            )
            self.delivered += 1
        except Exception as error:  # noqa: BLE001 - the function failed: SQS delivers it again, then gives up
            if receives >= self.max_receives:
                logger.warning("a notice queue message failed %d times; kept in failures (%r)", receives, error)
                self.failures.append(record)
                return
            self._push(time.monotonic() + self.visibility_timeout_seconds, record, receives)


class SqsEndpoint:
    """SendMessage over HTTP (SQS's JSON 1.0 protocol) into named delay queues."""

    def __init__(self, host: str, queues: Mapping[str, DelayQueue]) -> None:
        self.queues = dict(queues)  # by queue name (the last part of its URL)
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="local-sqs-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        for queue in self.queues.values():
            queue.start()
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for queue in self.queues.values():
            queue.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
                logger.debug(format, *args)

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                status, answer = endpoint.answer(target, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def answer(self, target: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        if target != "AmazonSQS.SendMessage":
            return 400, {"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": f"{target} is not served here"}
        queue = self.queues.get(str(body.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1])
        if queue is None:
            return 400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no such queue"}
        text = str(body.get("MessageBody", ""))
        try:
            message_id = queue.send(text, int(body.get("DelaySeconds", 0)))
        except ValueError as error:
            return 400, {"__type": "com.amazonaws.sqs#InvalidParameterValue", "message": str(error)}
        md5 = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - botocore checks SQS's MD5 of the body
        return 200, {"MessageId": message_id, "MD5OfMessageBody": md5}
