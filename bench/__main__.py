"""`python -m bench` runs every benchmark and prints its tables; `python -m bench <name>` one (names: BENCHMARKS).

Arguments after the benchmark's name go to it (`python -m bench fanout --listeners 1,100 --profile`).
`--write-docs` first (`make bench` passes it) also writes each benchmark's tables into its section of
docs/figures.md, with the command, commit, date, machine and load average of the run.
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
import time
from datetime import UTC, datetime

from bench import _common, _figures

BENCHMARKS = ("requests", "races", "cost", "keynote", "channels", "coldstart", "fanout", "presence")  # cheapest first
WRITE_DOCS = "--write-docs"


def main(argv: list[str]) -> int:
    write_docs = argv[:1] == [WRITE_DOCS]
    argv = argv[1:] if write_docs else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    chosen = [argv[0]] if argv else list(BENCHMARKS)
    rest = argv[1:] if argv else []
    status = 0
    runs: list[_figures.BenchRun] = []
    for name in chosen:
        started, began, load_before = datetime.now(UTC), time.monotonic(), os.getloadavg()[0]
        first_table = len(_common.RENDERED)
        module = importlib.import_module(f"bench.{name}")
        code = module.main(rest)
        status |= code
        seconds = time.monotonic() - began
        print(f"({name}: {seconds:.0f} s)\n", flush=True)
        command = shlex.join(["python", "-m", "bench", name, *rest])
        tables = _common.RENDERED[first_table:]
        runs.append(_figures.BenchRun(name, command, started, seconds, load_before, os.getloadavg()[0], code, tables))
    if write_docs:
        _figures.write(runs)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
