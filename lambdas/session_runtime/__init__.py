"""What both handlers share at run time: wiring built once per cold start, fan-out, observability."""
