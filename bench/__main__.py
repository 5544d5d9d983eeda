"""`python -m bench` runs every benchmark and prints its table; `python -m bench fanout|requests|cost|coldstart` one.

Arguments after the benchmark's name go to it (`python -m bench fanout --listeners 1,100 --profile`).
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ("requests", "cost", "coldstart", "fanout")  # cheapest first


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    chosen = [argv[0]] if argv else list(BENCHMARKS)
    rest = argv[1:] if argv else []
    status = 0
    for name in chosen:
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        status |= module.main(rest)
        print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
