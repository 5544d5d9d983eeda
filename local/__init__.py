"""The local stack: both APIs, an embedded DynamoDB/S3 and a JWT issuer on 127.0.0.1, one package per
AWS service it stands in for (`apigw`, `lambda_service`, `dynamodb`, `cognito`; see README.md).

The handlers import their shared packages (`session_schema`, `session_runtime`) as top-level modules,
exactly as Lambda does with the `lambdas/` directory as its code root; `python -m local` runs from the
repository root, so that directory is put on `sys.path` here (pytest does the same via `pythonpath`).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"

if str(LAMBDAS_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDAS_DIR))

# How often the stack's http.server threads look for a stop (the standard library's 0.5 s would add half a second,
# per server, to every stack's stop: the tests start and stop dozens of stacks).
SHUTDOWN_POLL_SECONDS = 0.05
