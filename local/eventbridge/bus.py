"""EventBridge for the local stack: the stack's bus, served on its own port as EventBridge's API (PutEvents;
the workers' `AWS_ENDPOINT_URL_EVENTBRIDGE` points here).

Each event put is what a rule's target receives (the envelope: `version`, `id`, `detail-type`, `source`,
`account`, `time`, `region`, `resources`, `detail`). It is appended to `events.jsonl` in the state dir, one
JSON per line, in the order it was put (`python -m local events [--follow]` prints them), and with a webhook
POSTed to it as an API destination delivers it: the envelope as the JSON body, with the connection's API-key
header. Deliveries go one at a time in put order (so a session's events arrive in order); one that fails is
retried with backoff a bounded number of times, then kept in `undelivered` and logged (EventBridge's
dead-letter queue's stand-in).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from local import SHUTDOWN_POLL_SECONDS

logger = logging.getLogger("local.events")

EVENTS_FILE = "events.jsonl"
ACCOUNT = "123456789012"
WEBHOOK_KEY_HEADER = "X-Webhook-Key"  # as infra/lifecycle_events.py's connection sends it
WEBHOOK_KEY = "local-webhook-key"
WEBHOOK_ATTEMPTS = 5
_WEBHOOK_TIMEOUT_SECONDS = 5  # EventBridge gives an API destination 5 seconds


def envelope(entry: dict[str, Any], region: str) -> dict[str, Any]:
    """A PutEvents entry as EventBridge hands it to a target."""
    when = entry.get("Time")
    at = datetime.fromtimestamp(float(when), tz=UTC) if isinstance(when, (int, float)) else datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": list(entry.get("Resources", [])),
        "detail": json.loads(entry["Detail"]),
    }


class LocalEventBus:
    def __init__(
        self, state_dir: Path, bus_name: str, *, host: str = "127.0.0.1", region: str, webhook: str | None = None
    ) -> None:
        self.bus_name, self.region, self.webhook = bus_name, region, webhook
        self.path = Path(state_dir) / EVENTS_FILE
        self.undelivered: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._deliveries: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self.url = f"http://{host}:{self._server.server_address[1]}"

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")  # this run's bus: what an earlier run put is not this run's
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                name="event-bus",
                daemon=True,
            )
        ]
        if self.webhook:
            self._threads.append(threading.Thread(target=self._deliver, name="webhook", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._deliveries.put(None)
        for thread in self._threads:
            thread.join(timeout=10)

    def events(self) -> list[dict[str, Any]]:
        """Every event put so far, in order."""
        with self._lock:
            lines = self.path.read_text().splitlines()
        return [json.loads(line) for line in lines if line]

    # -- PutEvents -----------------------------------------------------------------------------------------

    def put_events(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        answers: list[dict[str, Any]] = []
        with self._lock:
            with self.path.open("a") as out:
                for entry in entries:
                    if entry.get("EventBusName", "default") not in (self.bus_name, self._bus_arn()):
                        answers.append({"ErrorCode": "ResourceNotFoundException", "ErrorMessage": "no such bus"})
                        continue
                    event = envelope(entry, self.region)
                    out.write(json.dumps(event) + "\n")
                    answers.append({"EventId": event["id"]})
                    if self.webhook:
                        self._deliveries.put(event)
        return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}

    def _bus_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{ACCOUNT}:event-bus/{self.bus_name}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        bus = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                target = self.headers.get("X-Amz-Target", "")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if target != "AWSEvents.PutEvents":
                    self._answer(400, {"__type": "UnknownOperationException", "message": f"not served: {target}"})
                    return
                self._answer(200, bus.put_events(body.get("Entries", [])))

            def _answer(self, status: int, document: dict[str, Any]) -> None:
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                logger.debug(format, *args)

        return Handler

    # -- the webhook (API destination) ---------------------------------------------------------------------

    def _deliver(self) -> None:
        assert self.webhook is not None
        session = requests.Session()
        session.trust_env = False  # a local URL: no proxy from the environment
        while (event := self._deliveries.get()) is not None:
            for attempt in range(WEBHOOK_ATTEMPTS):
                try:
                    answer = session.post(
                        self.webhook,
                        json=event,
                        headers={WEBHOOK_KEY_HEADER: WEBHOOK_KEY},
                        timeout=_WEBHOOK_TIMEOUT_SECONDS,
                    )
                    # EventBridge retries 429 and 5xx; any other answer is final.
                    if answer.status_code < 500 and answer.status_code != 429:
                        break
                    why = f"HTTP {answer.status_code}"
                except requests.RequestException as error:
                    why = repr(error)
                logger.warning("webhook delivery of %s failed (%s), attempt %d", event["detail-type"], why, attempt + 1)
                time.sleep(min(0.5 * 2**attempt, 5))
            else:
                self.undelivered.append(event)
                logger.error("webhook: %s %s not delivered", event["detail-type"], event["id"])


def read_events(state_dir: Path, *, follow: bool = False, poll_seconds: float = 0.2) -> Iterator[str]:
    """The events the bus of the stack serving from `state_dir` put, one JSON line each; with `follow`, then
    each new one as it is put, until interrupted (a new run's bus starts the file again: read from its top)."""
    path = Path(state_dir) / EVENTS_FILE
    offset = 0
    while True:
        if path.exists():
            size = path.stat().st_size
            if size < offset:
                offset = 0  # a new run of the stack
            with path.open() as events:
                events.seek(offset)
                while (line := events.readline()).endswith("\n"):
                    offset += len(line.encode())
                    yield line.rstrip("\n")
        if not follow:
            return
        time.sleep(poll_seconds)
