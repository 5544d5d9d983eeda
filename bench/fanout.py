"""Broadcast fan-out through the local stack: 1, 100 and 500 real WebSocket listeners on one session.

The local stack runs in a child process (as a server would: the listeners' client work does not share its
interpreter); the listeners and the speaker are real `websockets` clients in one asyncio loop here. The
speaker sends each broadcast once its previous one was answered (`broadcastSent`, closed loop), carrying
its send time (`time.perf_counter()`, the same clock the listeners read on receipt): latency is what one
broadcast takes to reach each listener, without queueing behind earlier ones.

Checked for every run: each listener got every broadcast exactly once, in `seq` order, with no gap.

The stack is measured as shipped: its embedded moto reads a Query's partition only (local/dynamodb/moto_query.py)
and answers in plain JSON (local/dynamodb/moto_json.py), both proven to answer what moto itself would.

`python -m bench fanout [--listeners 1,100,500] [--messages 200] [--budget 90]
[--fanout-concurrency N] [--profile]`: a run stops broadcasting after `--budget` seconds (the table says
how many it sent); `--profile` samples the stack's threads and prints where its CPU goes, and the CPU per
delivery by part (handler, @connections endpoint, DynamoDB, WebSocket loop).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from statistics import median
from typing import Any
from urllib.parse import urlencode

from ._common import machine, percentile, prepare, table

OWNER = "bench-speaker"
WARMUP = 3  # broadcasts sent first and left out of the figures (still checked)
# Broadcasting starts once the stack is quiet after the joins: the joins' own aftermath (each join's lifecycle event
# read from the stream and published, the last `$connect`s) is not a broadcast's cost, and on AWS it runs on capacity
# of its own, not on the two cores the fan-out shares here. Quiet: under QUIET_CPU of one core for QUIET_WINDOW s.
QUIET_CPU, QUIET_WINDOW, QUIET_LIMIT = 0.15, 0.5, 30.0
CONNECT_CONCURRENCY = 25
DELIVERY_TIMEOUT = 60.0
LEAN_CPU_TARGET_US = 60  # issue 29: the handler's CPU per delivery on the lean path, at most
# tests/bench: once, tiny (with the profile's tables, a stream comparison and a two-shard broadcast)
SMOKE_ARGS = [
    "--listeners", "1,2", "--messages", "2", "--post-calls", "20", "--post-rounds", "1", "--profile",
    "--stream-compare", "1", "--sharded", "200:1,2",
]  # fmt: skip


# -- the local stack, in a child process -----------------------------------------------------------------


def _serve(pipe: Any, state_dir: str, profile: bool, overrides: dict[str, str]) -> None:
    import sys

    prepare()
    # Powertools prints EMF metric blobs on stdout (every 100 values, even with metrics disabled).
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of this process
    from local.stack import LocalStack

    from .sampler import Sampler

    stack = LocalStack(
        http_port=0,
        ws_port=0,
        state_dir=state_dir,
        sweep_interval=None,
        worker_output=sys.stdout.fileno(),  # the workers' prints too
        settings_overrides={"POWERTOOLS_LOG_LEVEL": "WARNING", "MAX_LISTENERS_LIMIT": "10000", **overrides},
    )
    urls = stack.start()
    # Sampling from the first measured phase on, every 10 ms: at 4 ms through hundreds of connects, its
    # own CPU starved the stack enough to fail handshakes (HTTP 500) on a loaded machine.
    sampler = Sampler(interval=0.01) if profile else None
    pipe.send({"http": urls.http, "ws": urls.ws, "token": stack.mint(OWNER, ttl_seconds=7200)})
    marked = _process_cpu()
    while True:
        command = pipe.recv()
        if command == "mark":  # the start of a measured phase
            marked = _process_cpu()
            if sampler is not None:
                sampler.reset()
                sampler.start()
            pipe.send(None)
        elif command == "cpu":  # CPU seconds so far, of the stack and every process below it
            pipe.send(_stack_cpu())
        elif command == "report":  # CPU since the mark, and where it went
            now = _process_cpu()
            processes = {kind: cpu - marked.get(kind, 0.0) for kind, cpu in now.items()}
            summary = (
                (sampler.by_role.most_common(), sampler.by_package.most_common(10), processes)
                if sampler
                else ([], [], processes)
            )
            pipe.send((sum(processes.values()), summary))


def _stack_cpu() -> float:
    """CPU seconds of this process and every process below it (the functions' worker processes)."""
    return sum(_process_cpu().values())


def _process_cpu() -> dict[str, float]:
    """CPU seconds of this process ("stack process") and of the processes below it by kind ("function
    workers", the embedded AWS services if they run apart, "other processes"), from /proc; this process's
    alone where there is no /proc. A worker that exits meanwhile takes its share."""
    import pathlib

    ticks = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float]] = {}  # pid -> (parent, CPU s)
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    if os.getpid() not in table:
        return {"stack process": time.process_time()}
    cpu = {"stack process": table[os.getpid()][1]}
    todo = [child for child, (parent, _cpu) in table.items() if parent == os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            command = ""
        worker = "local.lambda_service.worker" in command
        kind = "function workers" if worker else "moto" if "moto" in command else "other processes"
        cpu[kind] = cpu.get(kind, 0.0) + table[pid][1]
        todo += [child for child, (parent, _cpu) in table.items() if parent == pid]
    return cpu


class Stack:
    """The local stack in a child process. It is killed at the end, not stopped: a clean stop would run
    a `$disconnect` for each of hundreds of still-open connections, which measures nothing here."""

    def __init__(self, profile: bool = False, overrides: dict[str, str] | None = None) -> None:
        import tempfile

        context = multiprocessing.get_context("spawn")
        self._state_dir = tempfile.mkdtemp(prefix="bench-local-stack-")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, self._state_dir, profile, overrides or {}),
            name="local-stack",
            daemon=True,
        )

    def __enter__(self) -> dict[str, str]:
        self._process.start()
        if not self._pipe.poll(120):
            self.__exit__()
            raise RuntimeError("the local stack did not start within 120 s")
        return self._pipe.recv()

    def mark(self) -> None:
        self._pipe.send("mark")
        self._pipe.recv()

    def report(self) -> tuple[float, tuple[list, list, dict[str, float]]]:
        self._pipe.send("report")
        return self._pipe.recv()

    def cpu(self) -> float:
        self._pipe.send("cpu")
        return self._pipe.recv()

    def __exit__(self, *exc: object) -> None:
        import shutil

        self._process.kill()
        self._process.join(10)
        shutil.rmtree(self._state_dir, ignore_errors=True)


# -- the clients -----------------------------------------------------------------------------------------


@dataclass
class Listener:
    ws: Any
    received: list[tuple[int, int, float]] = field(default_factory=list)  # (seq, i, latency s)
    others: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    async def read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                now = time.perf_counter()
                message = json.loads(raw)
                if message.get("type") == "broadcast":
                    data = message["data"]
                    self.received.append((message["seq"], data["i"], now - data["t"]))
                    if len(self.received) >= self.expected:
                        self.done.set()
                else:
                    self.others += 1
        except ConnectionClosed:
            pass
        finally:
            self.done.set()


@dataclass
class Run:
    listeners: int
    messages: int
    connect_s: float
    settle_s: float  # waited after the joins for the stack to be quiet (QUIET_CPU)
    latencies: list[float]
    broadcast_rtt: list[float]
    elapsed: float
    delivered: int
    problems: list[str]
    server_cpu: float
    client_cpu: float  # this process's: the listeners and the speaker
    profile: tuple[list, list, dict[str, float]]  # sampled roles, packages; CPU s per process kind

    @property
    def row(self) -> list[object]:
        return [
            self.listeners,
            self.messages,
            self.delivered,
            percentile(self.latencies, 50) * 1000,
            percentile(self.latencies, 99) * 1000,
            max(self.latencies) * 1000 if self.latencies else float("nan"),
            percentile(self.broadcast_rtt, 50) * 1000,
            self.delivered / self.elapsed if self.elapsed else float("nan"),
            f"{self.server_cpu / self.elapsed * 100:.0f}%" if self.elapsed else "-",
            f"{self.client_cpu / self.elapsed * 100:.0f}%" if self.elapsed else "-",
            "yes" if not self.problems else "NO: " + "; ".join(self.problems[:3]),
        ]


# The parts a delivery costs: a sampled thread role of the stack process, or a kind of process below it.
PARTS = {
    "handler fan-out threads (boto3 post_to_connection)": "handler",
    "handler invocations (lambda pool)": "handler",
    "function workers": "handler",
    "HTTP gateway (incl. @connections endpoint)": "@connections endpoint",
    "WebSocket gateway (asyncio loop)": "WebSocket loop",
    "moto server (embedded DynamoDB)": "DynamoDB (moto)",
    "moto": "DynamoDB (moto)",
}


def per_delivery_table(run: Run) -> str:
    """CPU per delivery by part: the stack process's sampled threads by role, plus its child processes."""
    roles, _packages, processes = run.profile
    parts: dict[str, float] = {}
    for name, secs in [*roles, *((kind, secs) for kind, secs in processes.items() if kind != "stack process")]:
        part = PARTS.get(name, "other")
        parts[part] = parts.get(part, 0.0) + secs
    total = sum(parts.values()) or 1.0
    deliveries = max(run.delivered, 1)
    order = ["handler", "@connections endpoint", "DynamoDB (moto)", "WebSocket loop", "other"]
    return table(
        f"CPU per delivery by part, broadcasting to {run.listeners} ({run.delivered} deliveries)",
        ["part", "CPU s", "µs per delivery", "share"],
        [[p, parts[p], parts[p] / deliveries * 1e6, f"{parts[p] / total * 100:.0f}%"] for p in order if p in parts],
        [
            "handler: the functions' worker processes (all their CPU) and any in-process handler threads; the "
            "others: the stack process's threads, sampled by what they run (bench/sampler.py)",
        ],
    )


def _url(ws_base: str, session_id: str, token: str | None = None) -> str:
    query = {"sessionId": session_id, **({"token": token} if token else {})}
    return f"{ws_base}/?{urlencode(query)}"


async def _open(url: str) -> Any:
    """A client connection; a transient refusal of the handshake (5xx, 429) is retried, as the contract's clients
    do (a loaded machine's DynamoDB may not answer a `$connect` in time)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    for attempt in itertools.count():
        try:
            return await connect(url, proxy=None, compression=None, open_timeout=60, max_size=None, ping_interval=None)
        except InvalidStatus as refused:
            status = refused.response.status_code
            if attempt >= 5 or (status < 500 and status != 429):
                raise
        await asyncio.sleep(min(5.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


async def one_run(stack: Stack, urls: dict[str, str], listeners: int, messages: int, budget: float, last: bool) -> Run:
    import requests

    # Room for twice the listeners: on a loaded machine a `$connect` may answer 503 after its registration went
    # through (the table answered late), and the retried handshake needs a place of its own.
    for attempt in range(10):  # as the contract's clients do: a transient refusal (5xx, 429) is retried
        created = await asyncio.to_thread(
            requests.post,
            urls["http"] + "/sessions",
            json={"title": f"fan-out to {listeners}", "maxListeners": 2 * listeners + 1},
            headers={"Authorization": f"Bearer {urls['token']}"},
            timeout=30,
        )
        if created.status_code < 500 and created.status_code != 429:
            break
        await asyncio.sleep(min(5.0, 0.5 * 2**attempt))  # e.g. the last run's $disconnects still draining
    created.raise_for_status()
    session_id = created.json()["sessionId"]

    total = WARMUP + messages
    started = time.perf_counter()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_listener() -> Listener:
        async with gate:
            return Listener(await _open(_url(urls["ws"], session_id)), expected=total)

    clients = await asyncio.gather(*(open_listener() for _ in range(listeners)))
    connect_s = time.perf_counter() - started
    # The listeners are one process here, not 2,000 apps: its own full collections (the connections and every
    # receipt kept, 100 to 250 ms each at 2,000) would stop every listener at once and be counted as the stack's
    # latency. What connecting made is frozen out of them.
    gc.collect()
    gc.freeze()
    readers = [asyncio.create_task(c.read()) for c in clients]
    speaker = await _open(_url(urls["ws"], session_id, urls["token"]))
    settle_s = await _settle(stack)

    async def broadcast(i: int) -> float:
        sent = time.perf_counter()
        await speaker.send(json.dumps({"action": "broadcast", "data": {"i": i, "t": sent}}))
        while True:
            answer = json.loads(await asyncio.wait_for(speaker.recv(), 60))
            if answer.get("type") == "broadcastSent":
                return time.perf_counter() - sent
            if answer.get("type") == "error":
                raise RuntimeError(f"broadcast refused: {answer}")

    for i in range(WARMUP):
        await broadcast(i)
    await asyncio.to_thread(stack.mark)
    first_send, client_cpu = time.perf_counter(), time.process_time()
    rtts = []
    sent = WARMUP
    while sent < total and time.perf_counter() - first_send < budget:
        rtts.append(await broadcast(sent))
        sent += 1
    for client in clients:
        client.expected = sent
        if len(client.received) >= sent:
            client.done.set()
    await asyncio.wait_for(asyncio.gather(*(c.done.wait() for c in clients)), DELIVERY_TIMEOUT)
    last_receive, client_cpu = time.perf_counter(), time.process_time() - client_cpu
    cpu, profile = await asyncio.to_thread(stack.report)

    problems = _check(clients, sent)
    latencies = [lat for c in clients for (_seq, i, lat) in c.received if i >= WARMUP]
    if last:  # the stack is killed next: drop the sockets instead of running hundreds of $disconnects
        for ws in (speaker, *(c.ws for c in clients)):
            ws.transport.abort()
    else:  # the speaker first, so its listeners' leaves are not each reported to it
        await speaker.close()
        await asyncio.gather(*(c.ws.close() for c in clients), return_exceptions=True)
    await asyncio.gather(*readers, return_exceptions=True)
    elapsed = last_receive - first_send
    broadcasts, delivered = sent - WARMUP, len(latencies)
    cpus = cpu, client_cpu
    timing = connect_s, settle_s, latencies, rtts, elapsed
    return Run(listeners, broadcasts, *timing, delivered, problems, *cpus, profile)


async def _settle(stack: Stack) -> float:
    """Wait until the stack is quiet (QUIET_CPU), at most QUIET_LIMIT s; the seconds waited."""
    started = time.perf_counter()
    before = await asyncio.to_thread(stack.cpu)
    while time.perf_counter() - started < QUIET_LIMIT:
        await asyncio.sleep(QUIET_WINDOW)
        now = await asyncio.to_thread(stack.cpu)
        if (now - before) / QUIET_WINDOW < QUIET_CPU:
            break
        before = now
    return time.perf_counter() - started


def _check(clients: list[Listener], total: int) -> list[str]:
    problems = []
    for index, client in enumerate(clients):
        items = [i for (_s, i, _l) in client.received]
        seqs = [s for (s, _i, _l) in client.received]
        if sorted(items) != list(range(total)) or len(items) != total:
            problems.append(f"listener {index}: got {len(items)} of {total} (distinct {len(set(items))})")
        elif items != list(range(total)):
            problems.append(f"listener {index}: out of send order")
        if seqs != sorted(seqs) or any(b - a != 1 for a, b in itertools.pairwise(seqs)):
            problems.append(f"listener {index}: seq not consecutive and increasing")
    return problems


async def _all(stack: Stack, urls: dict[str, str], sizes: list[int], messages: int, budget: float) -> list[Run]:
    runs = []
    for index, size in enumerate(sizes):
        run = await one_run(stack, urls, size, messages, budget, last=index == len(sizes) - 1)
        print(
            f"  {size} listeners: connected in {run.connect_s:.1f} s, the stack quiet {run.settle_s:.1f} s later; "
            f"{run.messages} broadcasts, {run.delivered} deliveries in {run.elapsed:.1f} s",
            flush=True,
        )
        runs.append(run)
    return runs


class _Connections:
    """A store with `n` listeners of one session and nothing else (the fan-out reads and unregisters)."""

    def __init__(self, n: int) -> None:
        from session_schema.models import ConnectionTarget

        # What the store's fan-out read yields: a target per connection.
        self.connections = [ConnectionTarget(connectionId=f"c{i:05d}AAAAAAAAA=", role="listener") for i in range(n)]

    def iter_connection_targets(self, session_id: str, **_: Any) -> Any:
        return iter(self.connections)

    def unregister_connection(self, connection_id: str) -> None:
        raise AssertionError("the do-nothing endpoint never answers 410")


class _ShardedConnections:
    """An in-memory store of one session's connections that reads a shard as the table's Query would:
    the SK range of session_schema.keys.connection_shard_range (over the connection keys it ranges, the ones
    before channels), in SK order."""

    def __init__(self, ids: list[str]) -> None:
        from session_schema import keys
        from session_schema.models import ConnectionTarget

        self.keys = keys
        self.by_sk = sorted((keys.legacy_connection_key("bench-fan-001", i)[keys.SK], i) for i in ids)
        self.model = ConnectionTarget

    def iter_connection_targets(self, session_id: str, *, shard: tuple[int, int] | None = None, **_: Any) -> Any:
        low, high = self.keys.connection_shard_range(session_id, *shard) if shard else ("", "\uffff")
        for sk, connection_id in self.by_sk:
            if low <= sk < high:
                yield self.model(connectionId=connection_id, role="listener")

    def unregister_connection(self, connection_id: str) -> None:
        raise AssertionError("the counting endpoint never answers 410")


_PAYLOAD = {"type": "broadcast", "data": {"i": 1, "t": 0.5}, "ts": 1, "seq": 1}


def _shard_worker(pipe: Any, url: str, ids: list[str], shard: int, shards: int) -> None:
    """One fan-out worker invocation's execution environment: warmed, then one shard when told."""
    prepare()
    from session_runtime.fanout import Fanout
    from session_runtime.management_api import ManagementApi

    api = ManagementApi.from_botocore(url, connections=16)
    Fanout(_Connections(16), api).send("warm", _PAYLOAD)  # type: ignore[arg-type]
    fanout = Fanout(_ShardedConnections(ids), api)  # type: ignore[arg-type]
    pipe.send("ready")
    pipe.recv()
    result = fanout.send("bench-fan-001", _PAYLOAD, shard=(shard, shards))
    pipe.send((time.monotonic(), result.sent, time.process_time()))


def sharded_cost(connections: int, shard_counts: list[int]) -> list[list[object]]:
    """Time to the last post of one broadcast to `connections`, by one invocation or by n parallel
    shard workers (processes, warm like reused execution environments), against the counting endpoint."""
    import base64
    import random

    from ._endpoint import Endpoint

    rng = random.Random(17)
    ids = [base64.b64encode(rng.randbytes(11)).decode() for _ in range(connections)]  # API Gateway-like IDs
    context = multiprocessing.get_context("spawn")
    rows: list[list[object]] = []
    endpoint = Endpoint()
    with endpoint as url:
        for shards in shard_counts:
            pipes, processes = [], []
            for shard in range(shards):
                mine, theirs = context.Pipe()
                process = context.Process(target=_shard_worker, args=(theirs, url, ids, shard, shards), daemon=True)
                process.start()
                pipes.append(mine)
                processes.append(process)
            for pipe in pipes:
                assert pipe.recv() == "ready"
            endpoint.reset()
            started = time.monotonic()
            for pipe in pipes:
                pipe.send("go")
            finished = [pipe.recv() for pipe in pipes]
            for process in processes:
                process.join(10)
            counted = endpoint.counts()
            assert len(counted) == connections and set(counted.values()) == {1}, "not every connection once"
            assert sum(sent for _, sent, _ in finished) == connections
            last = max(end for end, _, _ in finished) - started
            first = min(end for end, _, _ in finished) - started
            rows.append([shards, shards, round(last * 1000), round(connections / last), round(first * 1000)])
    return rows


def _bare_posts(url: str, ids: list[str], data: bytes, concurrency: int) -> Any:
    """The floor a fan-out's post path is measured against: `concurrency` asyncio streams, each posting its
    share of `ids` one after another, each post signed (session_runtime/sigv4.py) and its answer read; no
    store, no tasks per connection, no pool, no retries, no outcomes."""
    from urllib.parse import quote, urlsplit

    from session_runtime.management_api import botocore_credentials, host_of
    from session_runtime.sigv4 import Signer, amz_date

    parts = urlsplit(url)
    host, credentials, signer = host_of(url), botocore_credentials(), Signer("us-east-1")

    async def stream(share: list[str]) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        for connection_id in share:
            path = f"{parts.path}/@connections/{quote(connection_id, safe='-._~')}"
            signed = signer.headers("POST", host, path, data, credentials(), amz_date())
            head = "".join(f"{name}: {value}\r\n" for name, value in signed)
            writer.write(f"POST {path} HTTP/1.1\r\n{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
            await reader.readuntil(b"\r\n\r\n")  # the do-nothing endpoint answers with no body
        writer.close()

    async def run() -> None:
        await asyncio.gather(*(stream(ids[k::concurrency]) for k in range(concurrency)))

    return lambda: asyncio.run(run())


def delivery_cost(calls: int, rounds: int) -> list[list[object]]:
    """Handler CPU per delivery against a do-nothing endpoint (another process): boto3 from one thread and
    from FANOUT_CONCURRENCY threads (the old fan-out), then the lean path through `Fanout.send` and the bare
    signed asyncio post in turns, `rounds` times each (the median of each: both see the same machine load)."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    from session_runtime.fanout import Fanout
    from session_runtime.management_api import ManagementApi
    from session_schema.settings import SETTINGS_BY_ENV

    from ._endpoint import Endpoint

    concurrency = int(SETTINGS_BY_ENV["FANOUT_CONCURRENCY"].default or 16)
    payload = {"type": "broadcast", "data": {"i": 1, "t": 0.5}, "ts": 1, "seq": 1}
    data = json.dumps(payload).encode()
    ids = [f"c{i:05d}AAAAAAAAA=" for i in range(calls)]
    rows: list[list[object]] = []

    def measure(name: str, run: Any, endpoint: Endpoint) -> tuple[float, float]:
        endpoint.reset()
        cpu, wall = time.process_time(), time.perf_counter()
        run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        counted = endpoint.counts()
        assert len(counted) == calls and set(counted.values()) == {1}, f"{name}: not every connection posted once"
        return cpu / calls * 1e6, wall / calls * 1e6

    def row(name: str, cpu: float, wall: float, note: str = "") -> float:
        rows.append([name, round(cpu), round(wall), f"{1e6 / wall:,.0f}", note])
        return cpu

    endpoint = Endpoint()
    with endpoint as url:
        client = boto3.client("apigatewaymanagementapi", endpoint_url=url, region_name="us-east-1")
        client.post_to_connection(ConnectionId="warm", Data=data)
        boto3_cpu = row(
            "boto3, one thread",
            *measure("boto3", lambda: [client.post_to_connection(ConnectionId=i, Data=data) for i in ids], endpoint),
        )
        pooled = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=url,
            region_name="us-east-1",
            config=Config(max_pool_connections=concurrency),
        )
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: pooled.post_to_connection(ConnectionId=i, Data=data), ids[:concurrency]))
            row(
                f"boto3, {concurrency} threads (the old fan-out)",
                *measure(
                    "boto3 threads",
                    lambda: list(pool.map(lambda i: pooled.post_to_connection(ConnectionId=i, Data=data), ids)),
                    endpoint,
                ),
            )
        api = ManagementApi.from_botocore(url, connections=concurrency)
        fanout = Fanout(_Connections(calls), api, concurrency=concurrency)  # type: ignore[arg-type]
        Fanout(_Connections(concurrency), api, concurrency=concurrency).send("warm", payload)  # type: ignore[arg-type]
        bare = _bare_posts(url, ids, data, concurrency)
        lean_runs, bare_runs = [], []
        for _ in range(rounds):
            lean_runs.append(measure("lean", lambda: fanout.send("s", payload), endpoint))
            bare_runs.append(measure("bare", bare, endpoint))
    spread = f"median of {rounds}, in turns"
    lean_cpu = row(
        f"lean path, Fanout.send ({concurrency} connections)",
        median([cpu for cpu, _ in lean_runs]),
        median([wall for _, wall in lean_runs]),
        spread,
    )
    floor_cpu = row(
        f"bare signed asyncio post ({concurrency} streams, the floor)",
        median([cpu for cpu, _ in bare_runs]),
        median([wall for _, wall in bare_runs]),
        spread,
    )
    rows.append(["lean / floor", f"{lean_cpu / floor_cpu:.2f}x", "", "", f"target {LEAN_CPU_TARGET_US} µs"])
    rows.append(["boto3 / lean (one thread)", f"{boto3_cpu / lean_cpu:.1f}x", "", "", ""])
    return rows


def stream_comparison(
    sizes: list[int], args: argparse.Namespace, overrides: dict[str, str], kept: dict[int, Run]
) -> str:
    """Broadcast latency with the stream kept (each event one PutItem before the fan-out) vs not kept."""
    off = Stack(overrides={**overrides, "STREAM_WINDOW_SECONDS": "0"})
    with off as urls:
        without = asyncio.run(_all(off, urls, sizes, args.messages, args.budget))
    missing = [n for n in sizes if n not in kept]
    if missing:
        on = Stack(overrides=overrides)
        with on as urls:
            kept |= {run.listeners: run for run in asyncio.run(_all(on, urls, missing, args.messages, args.budget))}
    rows = []
    for run in without:
        with_stream = kept[run.listeners]
        rows.append(
            [run.listeners]
            + [percentile(r.latencies, q) * 1000 for r in (with_stream, run) for q in (50, 99)]
            + [percentile(r.broadcast_rtt, 50) * 1000 for r in (with_stream, run)]
        )
    return table(
        "Broadcast latency with the stream kept vs not (same run)",
        [
            "listeners",
            "kept p50 ms",
            "kept p99 ms",
            "not kept p50 ms",
            "not kept p99 ms",
            "kept RTT p50",
            "not RTT p50",
        ],
        rows,
        [
            "kept: the default STREAM_WINDOW_SECONDS (each broadcast one PutItem before its fan-out); "
            "not kept: STREAM_WINDOW_SECONDS=0 (no event stored; a resume is then always recovered:false)"
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fanout")
    parser.add_argument("--listeners", default="1,100,500")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument(
        "--budget", type=float, default=90.0, help="seconds of broadcasting per run at most (fewer broadcasts if hit)"
    )
    parser.add_argument("--profile", action="store_true", help="sample where the stack's CPU goes, per thread")
    parser.add_argument(
        "--fanout-concurrency", type=int, help="the FANOUT_CONCURRENCY setting (default: its declared default)"
    )
    parser.add_argument("--post-calls", type=int, default=2000, help="connections posted for the per-delivery CPU")
    parser.add_argument(
        "--post-rounds",
        type=int,
        default=7,
        help="lean path and floor runs, in turns, for the per-delivery CPU (0: skip that table)",
    )
    parser.add_argument("--cpu-only", action="store_true", help="only the CPU and shard tables (no local stack)")
    parser.add_argument(
        "--sharded",
        default="10000:1,2,4",
        help="N:s1,s2,... - one broadcast to N connections by s1, s2... shard workers ('' to skip)",
    )
    parser.add_argument(
        "--stream-compare",
        default="100",
        help="listener counts to run again with no stream kept (STREAM_WINDOW_SECONDS=0), compared in one table",
    )
    args = parser.parse_args(argv)
    prepare()
    if args.post_rounds > 0:  # 0: no per-delivery CPU table (a fan-out run only)
        print(
            table(
                "Handler CPU per delivery: lean path vs boto3, same run, against a do-nothing endpoint",
                ["client", "CPU µs per delivery", "wall µs per delivery", "deliveries/s", "note"],
                delivery_cost(args.post_calls, args.post_rounds),
                [
                    f"{args.post_calls} connections, each posted once; the endpoint is another process (its CPU not "
                    "counted); CPU = this process's (every thread), so it is what a handler is billed for",
                    "lean path: session_runtime/management_api.py (own SigV4, httptools, asyncio keep-alive "
                    "connections), the whole Fanout.send (reading the connections, tasks, outcomes) included",
                    "floor: the same signed posts from bare asyncio streams, one after another on each (no store, "
                    "tasks, pool, retries or outcomes); the lean path and the floor run in turns, in one process",
                ],
            )
        )
    if args.sharded:
        size, _, counts = args.sharded.partition(":")
        connections, shard_counts = int(size), [int(n) for n in counts.split(",") if n]
        print(
            table(
                f"One broadcast to {connections:,} connections: one invocation vs parallel shard workers",
                ["shards", "invocations", "time to last post ms", "posts/s", "first shard done ms"],
                sharded_cost(connections, shard_counts),
                [
                    "a counting management endpoint (another process, no sockets to clients) checks every "
                    "connection got exactly one post; each shard worker is a warm process reading only its "
                    "SK range (keys.connection_shard_range) and posting through the lean path",
                    f"{machine()}: past 2 shards the workers share 2 cores with the endpoint, so this machine "
                    "shows the split working, not Lambda's scale (there each shard has its own vCPU)",
                ],
            )
        )
    if args.cpu_only:
        return 0
    overrides = {"FANOUT_CONCURRENCY": str(args.fanout_concurrency)} if args.fanout_concurrency else {}
    sizes = [int(n) for n in args.listeners.split(",") if n]
    print(f"fan-out through the local stack ({machine()}) ...", flush=True)
    stack = Stack(profile=args.profile, overrides=overrides)
    with stack as urls:
        runs = asyncio.run(_all(stack, urls, sizes, args.messages, args.budget))
    compare = [int(n) for n in args.stream_compare.split(",") if n]
    if compare:
        print(stream_comparison(compare, args, overrides, {run.listeners: run for run in runs}))
    print()
    print(
        table(
            "Broadcast fan-out through the local stack",
            [
                "listeners",
                "broadcasts",
                "deliveries",
                "p50 ms",
                "p99 ms",
                "max ms",
                "speaker RTT p50 ms",
                "deliveries/s",
                "stack CPU",
                "clients CPU",
                "exactly once, in seq order",
            ],
            [run.row for run in runs],
            [
                f"{machine()}; the stack (gateways) in one process, each function's execution environments and "
                "the embedded moto in processes below it, the clients in another",
                "latency: speaker send -> listener receive (one clock); broadcasts sent one after another "
                f"(closed loop), from when the stack is quiet after the joins (under {QUIET_CPU:.0%} of a core for "
                f"{QUIET_WINDOW} s, at most {QUIET_LIMIT:.0f} s: their lifecycle events and last `$connect`s run on "
                f"capacity of their own on AWS); {WARMUP} warm-up broadcasts left out; a run stops early after "
                f"{args.budget:.0f} s of broadcasting (the broadcasts column says how many were sent); the listeners' "
                "process freezes what connecting made out of its own garbage collections (bench/fanout.py one_run)",
                "speaker RTT: broadcast sent -> `broadcastSent` answer (the handler's whole fan-out)",
                "stack CPU: CPU time / wall time while broadcasting (100% = one core) of the stack process, its "
                "worker processes and its embedded moto together; clients CPU: the same for this process (every "
                "listener and the speaker, one asyncio loop)",
            ],
        )
    )
    for run in runs:
        roles, packages, processes = run.profile
        if not roles:
            continue
        print(per_delivery_table(run))
        total = sum(t for _p, t in roles) or 1.0
        print(
            table(
                f"Where the stack's CPU goes while broadcasting to {run.listeners} (sampled per thread)",
                ["thread role", "CPU s", "share"],
                [[name, secs, f"{secs / total * 100:.0f}%"] for name, secs in roles],
            )
        )
        print(
            table(
                "... by package of the running frame",
                ["package", "CPU s", "share"],
                [[name, secs, f"{secs / total * 100:.0f}%"] for name, secs in packages],
            )
        )
    return 1 if any(run.problems for run in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
