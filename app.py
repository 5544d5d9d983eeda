#!/usr/bin/env python3
"""CDK entry point (cdk.json: `.venv/bin/python app.py`). Context: -c stage=dev|prod, -c emulated=<callbackUrl>."""

import sys
from pathlib import Path

# The stack is built FROM the handlers' schema module (settings, keys, routes): make it importable.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambdas"))

import aws_cdk as cdk  # noqa: E402

from infra.build import build_app  # noqa: E402

app = cdk.App()
build_app(app)
app.synth()
