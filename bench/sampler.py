"""A small sampling CPU profiler for a multi-threaded process (the local stack's).

Every few milliseconds it reads each thread's CPU clock and its current Python stack; the CPU a thread
used since the previous sample is charged to (the thread's role, the package of its innermost frame).
Waiting threads use no CPU, so unlike a wall-clock profiler this shows where the CPU goes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter


def _package(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    for marker in ("site-packages", "lambdas", "local", "bench"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            top = rest[0].removesuffix(".py") if rest else marker
            return top if marker == "site-packages" else f"{marker}/{top}"
    return "stdlib " + parts[-1].removesuffix(".py")


def _role(name: str, files: list[str]) -> str:
    joined = " ".join(files)
    if name.startswith("fanout"):
        return "handler fan-out threads (boto3 post_to_connection)"
    if name.startswith("lambda"):
        return "handler invocations (lambda pool)"
    if name == "ws-gateway":
        return "WebSocket gateway (asyncio loop)"
    if "moto" in joined or "werkzeug" in joined:
        return "moto server (embedded DynamoDB)"
    if "http_gateway" in joined or "http/server" in joined or "socketserver" in joined:
        return "HTTP gateway (incl. @connections endpoint)"
    return f"other ({name.split('-')[0].split(' ')[0].rstrip('0123456789_')})"  # invoke_3 -> invoke


class Sampler:
    def __init__(self, interval: float = 0.004) -> None:
        self.interval = interval
        self.by_role: Counter[str] = Counter()
        self.by_package: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._last: dict[int, float] = {}

    def start(self) -> None:
        """Start sampling (again: a no-op once it runs)."""
        if not self._thread.is_alive():
            self._thread.start()

    def reset(self) -> None:
        self.by_role.clear()
        self.by_package.clear()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            frames = sys._current_frames()
            threads = {t.ident: t for t in threading.enumerate()}
            for ident, frame in frames.items():
                thread = threads.get(ident)
                if ident == me or thread is None:
                    continue
                try:
                    cpu = time.clock_gettime(time.pthread_getcpuclockid(ident))
                except (OSError, AttributeError):
                    continue
                used = cpu - self._last.get(ident, cpu)
                self._last[ident] = cpu
                if used <= 0:
                    continue
                files = []
                walk = frame
                while walk is not None and len(files) < 60:
                    files.append(walk.f_code.co_filename)
                    walk = walk.f_back
                self.by_role[_role(thread.name, files)] += used
                self.by_package[_package(files[0])] += used
