"""Benchmarks (`make bench` / `python -m bench [fanout|requests|coldstart]`); not part of `make test`."""
