"""Least-privilege IAM for each function, from one declaration (`FUNCTION_ACTIONS`).

Each function gets explicit statements (no `grant_*` helpers, whose action sets are broader than
what the handlers call) on exactly these resources:

  "table"        the table ARN and `<table ARN>/index/*` (its GSIs)
  "artifacts"    `<bucket ARN>/*` (objects only, never the bucket itself)
  "artifacts_listing"
                 the bucket ARN itself, for s3:ListBucket only (ListObjectsV2 of one artifact tree's prefix)
  "cursor_key"   the cursor secret's ARN (infra/cursor_key.py): the functions whose listings page
  "worker"       the fan-out worker function's ARN (an asynchronous invoke per shard of a large fan-out)
  "connections"  `arn:aws:execute-api:<region>:<account>:<wsApiId>/<stage>/<method>/@connections/*` for each
                 of the function's CONNECTION_METHODS
  "bus"          the stack's lifecycle events bus (PutEvents)
  "notices"      the notice queue (infra/notices.py): trailing presence and reaction notices
  "occupancy_read" / "occupancy_write"
                 the table ARN, under the conditions of `KIND_CONDITIONS`: the lifecycle events function's reads of
                 a keynote session's item and seat shards, and its one write, the session's occupancy item

What Lambda itself does with a function's role is declared apart, in `EVENT_SOURCE_ACTIONS`: the event source
mapping reads the table's stream with the role of the function it invokes (no handler calls these).

The infra tests compare the synthesized policies with this dict (tests/infra/test_functions.py), and
run the handlers to check that every DynamoDB / S3 / management API call each one makes is granted here
and that nothing here goes unused (tests/infra/test_iam_usage.py), so a handler that starts calling a new
API fails a test before it fails with AccessDenied in AWS.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs

from session_schema import keys
from session_schema.models import SessionOccupancy

from infra.functions import (
    CONNECTION_FUNCTION,
    FANOUT_WORKER_FUNCTION,
    HTTP_FUNCTION,
    LIFECYCLE_EVENTS_FUNCTION,
    SWEEP_FUNCTION,
    UPLOAD_FUNCTION,
)

# Single-item CRUD, Query (base table and GSIs) and transactions. There is NO `dynamodb:TransactWriteItems`
# IAM action (cfn-lint W3037): a TransactWriteItems call is authorized item by item with the Put/Update/
# DeleteItem actions. (No ConditionCheck element is used: a stored message's session check is the
# UpdateItem that claims its stream seq.)
_TABLE_READ_WRITE = (
    "dynamodb:GetItem",
    # A keynote session is read with its seat shards (one BatchGetItem: session_store/seat_ledger.py) by every
    # function that reads a session to publish to it or to admit a listener.
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)
# post_to_connection (POST), delete_connection (DELETE) and get_connection (GET) are all ManageConnections;
# the resource ARN names the method, so each function is granted only the methods it calls.
_MANAGE_CONNECTIONS = ("execute-api:ManageConnections",)
# Every function that fans out to a session's connections dispatches the shards of a large one
# (session_runtime/shards.py); the worker itself serves one shard and dispatches none.
_INVOKE_WORKER = ("lambda:InvokeFunction",)
# The functions that seal and open pagination cursors read the secret they are sealed with (no DescribeSecret:
# GetSecretValue alone). The key is the secret's own, aws/secretsmanager: no kms:Decrypt grant is needed.
_READ_CURSOR_KEY = ("secretsmanager:GetSecretValue",)
# Every function that records presence changes (a join, a leave however found, a reaction) may schedule a
# trailing notice on the notice queue (session_runtime/conflation.py).
_SEND_NOTICES = ("sqs:SendMessage",)
CONNECTION_METHODS: dict[str, tuple[str, ...]] = {
    HTTP_FUNCTION: ("POST", "DELETE"),
    # GET: a full session's join asks API Gateway about its oldest listeners (ghost seats: connection_lifecycle.py).
    CONNECTION_FUNCTION: ("POST", "DELETE", "GET"),
    # GET: the sweep asks API Gateway whether each registered connection still exists (410: a ghost).
    SWEEP_FUNCTION: ("POST", "DELETE", "GET"),
    # POST: its shard's posts; DELETE: closing listeners after an end.
    FANOUT_WORKER_FUNCTION: ("POST", "DELETE"),
    # POST: artifactUpdated to the session's connections (an ended session's listeners are already closed).
    UPLOAD_FUNCTION: ("POST",),
}

FUNCTION_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    HTTP_FUNCTION: {
        # ConditionCheckItem: a publish only to channels checks the session item (live, the channels declared) in
        # its transaction without writing it
        "table": (*_TABLE_READ_WRITE, "dynamodb:ConditionCheckItem"),
        # PutObject: a presigned POST is signed with the function's role, so S3 authorizes the upload as a
        # PutObject by that role (the policy then pins key, Content-Type and size). DeleteObject: DELETE of an
        # artifact removes its subtree's objects (DeleteObjects). GetObject: a shared artifact's download is a
        # presigned GET signed with the role (the handler itself never reads an object).
        "artifacts": ("s3:PutObject", "s3:DeleteObject", "s3:GetObject"),
        # ListBucket: DELETE of an artifact lists its tree's prefix, so objects no record names go too.
        "artifacts_listing": ("s3:ListBucket",),
        "connections": _MANAGE_CONNECTIONS,  # broadcasts, artifactUpdated, sessionEnded
        "worker": _INVOKE_WORKER,
        "cursor_key": _READ_CURSOR_KEY,  # GET /sessions, messages and artifacts page
        "notices": _SEND_NOTICES,  # a fan-out that finds connections gone records their leaves
    },
    CONNECTION_FUNCTION: {
        # ConditionCheckItem: a listener's registration checks its user and name are not banned (in its transaction)
        "table": (*_TABLE_READ_WRITE, "dynamodb:ConditionCheckItem"),
        "connections": _MANAGE_CONNECTIONS,
        "worker": _INVOKE_WORKER,
        "cursor_key": _READ_CURSOR_KEY,  # the `history` and `presence` actions page
        "notices": _SEND_NOTICES,
    },
    SWEEP_FUNCTION: {
        "table": (
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",  # a gone connection is unregistered (a transaction of Delete + Update)
            "dynamodb:PutItem",  # an end keeps its two stream events (a transaction of two Puts)
            "dynamodb:BatchGetItem",  # the half-registration pass: the lookup items of a session's connections
        ),
        # tell listeners the session ended, then disconnect them; ask which connections are ghosts
        "connections": _MANAGE_CONNECTIONS,
        "worker": _INVOKE_WORKER,
        # GetObject: an upload whose notification never came, a HEAD of its object (authorized as GetObject) and
        # the upload function's ranged read of its first bytes (session_runtime/upload_reconciliation.py).
        # DeleteObject: an ended session's objects at the end of its retention (session_runtime/session_purge.py).
        "artifacts": ("s3:GetObject", "s3:DeleteObject"),
        "notices": _SEND_NOTICES,  # the connections it finds gone are leaves
    },
    FANOUT_WORKER_FUNCTION: {
        # Query: its shard's connections; a gone connection's unregister (GetItem + a transaction of
        # DeleteItem and UpdateItem) and the session read that tells the speaker the new count. No PutItem.
        # BatchGetItem: a keynote session's seat shards, read with it.
        "table": (
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ),
        "connections": _MANAGE_CONNECTIONS,
        "notices": _SEND_NOTICES,  # a gone connection's leave, and a trailing notice scheduled again
    },
    # The records arrive in the event; the images are the whole item. Only a keynote session's seat shard crossing
    # zero is read further: the session and its shards (GetItem, BatchGetItem), and its occupancy item moved
    # (UpdateItem), both under KIND_CONDITIONS (session_store/occupancy_ledger.py).
    LIFECYCLE_EVENTS_FUNCTION: {
        "bus": ("events:PutEvents",),
        "occupancy_read": ("dynamodb:GetItem", "dynamodb:BatchGetItem"),
        "occupancy_write": ("dynamodb:UpdateItem",),
    },
    UPLOAD_FUNCTION: {
        # GetItem: the artifact and the session's head; a transaction of UpdateItem (the artifact, the head) and
        # PutItem (the kept artifactUpdated); Query: the fan-out's connections; DeleteItem: a gone one unregistered.
        "table": _TABLE_READ_WRITE,
        # GetObject: one ranged read of the object's first bytes (its type and a still image's size).
        "artifacts": ("s3:GetObject",),
        "connections": _MANAGE_CONNECTIONS,
        "worker": _INVOKE_WORKER,
        "notices": _SEND_NOTICES,
    },
}

# The stream reads Lambda's event source mapping makes with the function's role (the actions Lambda checks the
# role for when the mapping is created). ListStreams has no resource-level permission: it is granted on "*",
# the one action besides X-Ray's (acknowledged in infra/nag.py); the others name this table's stream only.
STREAM_READ = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
STREAM_LIST = ("dynamodb:ListStreams",)
# A queue's messages, received by its mapping with the consuming function's role: the notice queue's by the fan-out
# worker's, the disconnect queue's (infra/disconnect_queue.py) by the connection function's.
QUEUE_READ = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
EVENT_SOURCE_ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    LIFECYCLE_EVENTS_FUNCTION: {"stream": STREAM_READ, "streams": STREAM_LIST},
    FANOUT_WORKER_FUNCTION: {"notice_queue": QUEUE_READ},
    CONNECTION_FUNCTION: {"disconnect_queue": QUEUE_READ},
}


# IAM cannot name a sort key, so the occupancy item (SK=OCCUPANCY in the session's partition, for the session's
# stream order) is told apart by its attributes: the write may set only the occupancy item's attribute names in
# session partitions (those a session item shares: the kind tag, schema version, session ID and owner, which the
# write sets to the session's own), never return an item's other attributes, and is an UpdateItem only (a PutItem
# could replace a session item whole).
_OCCUPANCY_ATTRIBUTES = sorted({keys.PK, keys.SK, keys.KIND_ATTRIBUTE, *SessionOccupancy.model_fields})
KIND_CONDITIONS: dict[str, dict[str, dict[str, list[str]]]] = {
    "occupancy_read": {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{keys.SESSION_PREFIX}*", f"{keys.SEATS_PREFIX}*"]}
    },
    "occupancy_write": {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{keys.SESSION_PREFIX}*"]},
        "ForAllValues:StringEquals": {"dynamodb:Attributes": _OCCUPANCY_ATTRIBUTES},
        "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE"]},
    },
}


def table_resources(table: dynamodb.ITable) -> list[str]:
    return [table.table_arn, f"{table.table_arn}/index/*"]


def artifact_resources(bucket: s3.IBucket) -> list[str]:
    return [bucket.arn_for_objects("*")]


def connection_resources(stack: Stack, ws_api_id: str, stage_name: str, methods: tuple[str, ...]) -> list[str]:
    return [
        stack.format_arn(
            service="execute-api", resource=ws_api_id, resource_name=f"{stage_name}/{method}/@connections/*"
        )
        for method in methods
    ]


def attach_permissions(
    functions: Mapping[str, lambda_.Function],
    *,
    table: dynamodb.ITable,
    bucket: s3.IBucket,
    cursor_key: secretsmanager.ISecret,
    ws_api_id: str,
    ws_stage_name: str,
    worker: lambda_.IFunction,
    bus: events.IEventBus,
    notices: sqs.IQueue,
    disconnects: sqs.IQueue,
) -> None:
    missing = set(FUNCTION_ACTIONS) ^ set(functions)
    if missing:
        raise KeyError(f"FUNCTION_ACTIONS and the functions disagree on: {sorted(missing)}")
    for name, function in functions.items():
        stack = Stack.of(function)
        resources = {
            "table": table_resources(table),
            "artifacts": artifact_resources(bucket),
            "artifacts_listing": [bucket.bucket_arn],
            "connections": connection_resources(stack, ws_api_id, ws_stage_name, CONNECTION_METHODS.get(name, ())),
            "worker": [worker.function_arn],
            "cursor_key": [cursor_key.secret_arn],
            "bus": [bus.event_bus_arn],
            "notices": [notices.queue_arn],
            "notice_queue": [notices.queue_arn],
            "disconnect_queue": [disconnects.queue_arn],
            "stream": stream_resources(table),
            "streams": ["*"],
            "occupancy_read": [table.table_arn],
            "occupancy_write": [table.table_arn],
        }
        declared = {**FUNCTION_ACTIONS[name], **EVENT_SOURCE_ACTIONS.get(name, {})}
        for kind, actions in declared.items():
            sid = kind.title().replace("_", "") + "Access"  # TableAccess, CursorKeyAccess...
            statement = iam.PolicyStatement(
                actions=list(actions), resources=resources[kind], sid=sid, conditions=KIND_CONDITIONS.get(kind)
            )
            function.add_to_role_policy(statement)


def stream_resources(table: dynamodb.ITable) -> list[str]:
    if table.table_stream_arn is None:
        raise ValueError("the table has no stream")
    return [table.table_stream_arn]
