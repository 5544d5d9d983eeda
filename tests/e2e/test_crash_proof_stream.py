"""The stream survives crashes: a stream event is kept by the write that numbers it, so killing the whole stack
(kill -9 of its process group) or one worker mid-burst, many times, over a DynamoDB that outlives it, leaves no
hole below the session's seq; every acknowledged broadcast is kept and reaches a resuming client, in order."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from session_schema import keys
from session_schema.functions import CONNECTION_FUNCTION

from tests.support.cli import REPO, cli_env, free_port
from tests.support.local_stack import running_local_stack
from tests.support.other_dynamodb import OtherDynamoDb

pytestmark = pytest.mark.e2e

REGION = "us-east-1"


def _kept(dynamodb: OtherDynamoDb, table: str, session_id: str) -> tuple[int, list[int]]:
    """(the session's seq, the seqs of its kept events), read straight from the table."""
    client = boto3.client(
        "dynamodb", endpoint_url=dynamodb.url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    head = client.get_item(TableName=table, Key={"PK": {"S": f"SESSION#{session_id}"}, "SK": {"S": "META"}})
    seq = int(head["Item"].get("seq", {"N": "0"})["N"])
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :evt)",
        ExpressionAttributeValues={":pk": {"S": f"SESSION#{session_id}"}, ":evt": {"S": keys.EVT_PREFIX}},
    )
    return seq, sorted(int(item["seq"]["N"]) for page in pages for item in page["Items"])


def _burst(ws_url: str, acked: list[int], stop: threading.Event) -> None:
    """Broadcast as fast as answers come until the stack dies (or `stop`): the acknowledged seqs in `acked`."""
    try:
        with connect(ws_url, open_timeout=20, close_timeout=1) as ws:
            n = 0
            while not stop.is_set():
                ws.send(json.dumps({"action": "broadcast", "data": n, "id": str(n)}))
                while True:
                    answer = json.loads(ws.recv(timeout=20))
                    if answer.get("id") == str(n):
                        break
                if answer.get("type") == "broadcastSent":
                    acked.append(answer["seq"])
                n += 1
    except (ConnectionClosed, OSError, TimeoutError):
        return  # the stack was killed


def _replayed(ws_url: str, epoch: str, until: int) -> tuple[dict[str, Any], list[int]]:
    """A resuming join from the start: its `joined` and the seqs of every stream event after it, in order."""
    with connect(ws_url, open_timeout=20) as ws:
        ws.send(json.dumps({"action": "join", "sinceSeq": 0, "epoch": epoch}))
        joined, seqs = None, []
        while not seqs or seqs[-1] < until:
            frame = json.loads(ws.recv(timeout=20))
            if frame.get("type") == "joined":
                joined = frame
            elif "seq" in frame and joined is not None:
                seqs.append(frame["seq"])
        assert joined is not None
        return joined, seqs


class ServeProcess:
    """`python -m local serve` in its own process group over `--dynamodb-endpoint`, killed with SIGKILL."""

    def __init__(self, tmp: Path, dynamodb: OtherDynamoDb) -> None:
        self.http_port, self.ws_port = free_port(), free_port()
        self.tmp = tmp
        self.log = tmp / f"serve-{self.http_port}.log"
        args = ["--http-port", str(self.http_port), "--ws-port", str(self.ws_port), "--state-dir", str(tmp / "state")]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local",
                "serve",
                *args,
                "--dynamodb-endpoint",
                dynamodb.url,
                "--sweep-interval",
                "0",
            ],
            cwd=REPO,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env=cli_env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while "Ctrl-C stops." not in self.log.read_text():
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()[-2000:]
            time.sleep(0.1)
        self.http = f"http://127.0.0.1:{self.http_port}"

    def token(self, user: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "local", "token", user, "--http-port", str(self.http_port), "--state-dir",
             str(self.tmp / "state")],
            cwd=REPO, env=cli_env(), capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip

    def ws(self, session_id: str, token: str | None = None) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/?sessionId={session_id}" + (f"&token={token}" if token else "")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # the whole stack: gateway, handlers, every worker
        self.process.wait(timeout=30)


def test_killing_the_whole_stack_mid_burst_many_times_leaves_no_hole_and_loses_no_acknowledged_event(
    tmp_path: Path,
) -> None:
    table = "live-sessions-local"  # the local stack's table, in a DynamoDB that outlives each stack
    acked: list[int] = []
    with OtherDynamoDb() as dynamodb:
        session_id = epoch = ""
        for round_ in range(4):
            stack = ServeProcess(tmp_path, dynamodb)
            token = stack.token("alice")
            if not session_id:
                created = requests.post(
                    f"{stack.http}/sessions", json={"title": "crash"}, headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )  # fmt: skip
                assert created.status_code == 201, created.text
                session_id, epoch = created.json()["sessionId"], created.json()["epoch"]
            stop = threading.Event()
            speaker = threading.Thread(target=_burst, args=(stack.ws(session_id, token), acked, stop))
            speaker.start()
            time.sleep(random.uniform(0.5, 2.0))  # somewhere in the burst: between any claim and any keep
            stack.kill()
            stop.set()
            speaker.join(timeout=30)
            seq, kept = _kept(dynamodb, table, session_id)
            assert kept == list(range(1, seq + 1)), f"round {round_}: a hole below seq {seq}"
            assert set(acked) <= set(kept), f"round {round_}: acknowledged but not kept"
        stack = ServeProcess(tmp_path, dynamodb)
        try:
            seq, _ = _kept(dynamodb, table, session_id)
            joined, seqs = _replayed(stack.ws(session_id), epoch, seq)
        finally:
            stack.kill()
    print(f"4 kills: {len(acked)} acknowledged broadcasts, {seq} kept events, no hole")
    assert joined["recovered"] is True and "missing" not in joined
    assert seqs == list(range(1, seq + 1))  # every kept event, acknowledged ones included, strictly in order
    assert len(acked) >= 4


def test_killing_a_worker_mid_broadcast_many_times_leaves_no_hole() -> None:
    names = {"table_name": f"kill-{uuid.uuid4().hex[:8]}", "bucket_name": f"kill-{uuid.uuid4().hex[:8]}"}
    acked: list[int] = []
    kills = 0
    with OtherDynamoDb() as dynamodb, running_local_stack(dynamodb_endpoint=dynamodb.url, **names) as stack:
        token = stack.mint("alice")
        created = requests.post(
            f"{stack.urls.http}/sessions", json={"title": "k"}, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        session_id, epoch = created.json()["sessionId"], created.json()["epoch"]
        url = f"{stack.urls.ws}/?sessionId={session_id}&token={token}"
        assert stack.functions is not None
        pool = stack.functions.pool(CONNECTION_FUNCTION)
        with connect(url, open_timeout=20) as ws:
            for n in range(60):
                ws.send(json.dumps({"action": "broadcast", "data": n, "id": str(n)}))
                if n % 4 == 1:  # kill the worker serving it, at some point of its work
                    time.sleep(random.uniform(0, 0.02))
                    for pid in pool.busy_pids():
                        os.kill(pid, signal.SIGKILL)
                        kills += 1
                while True:
                    answer = json.loads(ws.recv(timeout=30))
                    if answer.get("id") == str(n) or answer.get("message") == "Internal server error":
                        break
                if answer.get("type") == "broadcastSent":
                    acked.append(answer["seq"])
        seq, kept = _kept(dynamodb, names["table_name"], session_id)
        joined, seqs = _replayed(f"{stack.urls.ws}/?sessionId={session_id}", epoch, seq)
    print(f"{kills} workers killed: {len(acked)} acknowledged, {seq} kept")
    assert kills >= 5
    assert kept == list(range(1, seq + 1)) and set(acked) <= set(kept)
    assert joined["recovered"] is True and seqs == list(range(1, seq + 1))


def test_resumes_during_a_twenty_per_second_broadcast_stream_receive_strictly_increasing_seqs() -> None:
    with running_local_stack() as stack:
        token = stack.mint("alice")
        created = requests.post(
            f"{stack.urls.http}/sessions", json={"title": "r"}, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        session_id, epoch = created.json()["sessionId"], created.json()["epoch"]
        stop = threading.Event()

        def speak() -> None:
            with connect(f"{stack.urls.ws}/?sessionId={session_id}&token={token}", open_timeout=20) as ws:
                n = 0
                while not stop.is_set():
                    ws.send(json.dumps({"action": "broadcast", "data": n}))
                    n += 1
                    time.sleep(1 / 20)

        speaker = threading.Thread(target=speak)
        speaker.start()
        try:
            time.sleep(2.0)
            orders = []
            for since in (0, 10, 25):  # each resume replays while the speaker keeps broadcasting
                with connect(f"{stack.urls.ws}/?sessionId={session_id}", open_timeout=20) as ws:
                    ws.send(json.dumps({"action": "join", "sinceSeq": since, "epoch": epoch}))
                    frames = [json.loads(ws.recv(timeout=20))]
                    deadline = time.monotonic() + 2.0
                    while time.monotonic() < deadline:
                        try:
                            frames.append(json.loads(ws.recv(timeout=0.5)))
                        except TimeoutError:
                            continue
                joined_at = next(i for i, f in enumerate(frames) if f.get("type") == "joined")
                orders.append([f["seq"] for f in frames[joined_at + 1 :] if "seq" in f])
        finally:
            stop.set()
            speaker.join(timeout=30)
    for since, seqs in zip((0, 10, 25), orders, strict=True):
        assert seqs[0] == since + 1 and len(seqs) > 40
        assert seqs == list(range(since + 1, since + 1 + len(seqs))), seqs  # replay, tail and live: in order, once
