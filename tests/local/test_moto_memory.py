"""The embedded moto's memory stays the size of its tables (local/dynamodb/moto_memory.py).

Each test runs in a fresh interpreter: the patches change moto and the garbage collector process-wide, as the embedded
server's process applies them, and must not change the test process's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ITEM_FREED = """
import gc, weakref
import boto3
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from local.dynamodb.moto_memory import forget_model_instances

if PATCHED:
    forget_model_instances()
with mock_aws():
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
    )
    ddb.put_item(TableName="t", Item={"PK": {"S": "a"}, "n": {"N": "1"}})
    ddb.put_item(TableName="t", Item={"PK": {"S": "a"}, "n": {"N": "2"}})  # replaces the first
    table = dynamodb_backends["123456789012"]["us-east-1"].tables["t"]
    stored = weakref.ref(table.get_item(DynamoType({"S": "a"}), None))
    ddb.delete_item(TableName="t", Key={"PK": {"S": "a"}})
    gc.collect()
    print(json.dumps({"freed": stored() is None}))
"""

COLLECTIONS = """
import gc, weakref
from local.dynamodb.moto_memory import FULL_COLLECTION_EVERY, collect_less_often

class Node:
    pass

collect_less_often()
frozen_at_start = gc.get_freeze_count()
live = [Node() for _ in range(1000)]  # survive the next full collection: frozen then
gc.collect()
frozen_after_full = gc.get_freeze_count()
one = weakref.ref(live[0])
del live[0]  # a frozen object no longer referenced: freed by its reference count
cycle = Node(); cycle.me = cycle; in_cycle = weakref.ref(cycle); del cycle  # cyclic garbage made since
gc.collect()
print(json.dumps({
    "full_every": gc.get_threshold()[2], "expected_every": FULL_COLLECTION_EVERY,
    "start_frozen": frozen_at_start, "survivors_frozen": frozen_after_full - frozen_at_start,
    "frozen_freed": one() is None, "cycle_collected": in_cycle() is None,
}))
"""


def _run(script: str, **names: object) -> dict:
    prelude = "import json\n" + "".join(f"{name} = {value!r}\n" for name, value in names.items())
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        cwd=ROOT,
        env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambdas")]), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_item_the_table_no_longer_holds_is_freed() -> None:
    assert _run(ITEM_FREED, PATCHED=True) == {"freed": True}


def test_moto_itself_keeps_every_item_it_made() -> None:
    """Why the patch exists, at the pinned moto: its dashboard's list holds every item ever made. If this fails, moto
    stopped doing it and the patch can go."""
    assert _run(ITEM_FREED, PATCHED=False) == {"freed": False}


def test_full_collections_are_rarer_and_walk_only_what_was_made_since() -> None:
    seen = _run(COLLECTIONS)
    assert seen["full_every"] == seen["expected_every"] == 100
    assert seen["start_frozen"] > 10_000  # start-up's modules and objects
    assert seen["survivors_frozen"] >= 1000  # a full collection's survivors join them
    assert seen["frozen_freed"], "a frozen object no longer referenced must still be freed"
    assert seen["cycle_collected"], "cyclic garbage made after a freeze must still be collected"
