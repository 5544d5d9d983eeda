"""The single DynamoDB table, created from `session_schema.keys.TABLE` (the handlers' own definition)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from session_schema.keys import TABLE, TableDefinition
from session_schema.lifecycle import STREAM_VIEW_TYPE

from infra.config import StackConfig


def _string(name: str) -> dynamodb.Attribute:
    # Every key attribute is a string (see TableDefinition.create_table_kwargs).
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def build_table(scope: Construct, config: StackConfig, definition: TableDefinition = TABLE) -> dynamodb.Table:
    table = dynamodb.Table(
        scope,
        "SessionsTable",
        partition_key=_string(definition.partition_key),
        sort_key=_string(definition.sort_key),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=definition.ttl_attribute,
        # Read by the lifecycle events function (infra/lifecycle_events.py): both images, to tell what changed.
        stream=dynamodb.StreamViewType(STREAM_VIEW_TYPE),
        removal_policy=config.removal_policy,
        deletion_protection=config.is_prod,
    )
    for index in definition.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_string(index.partition_key),
            sort_key=_string(index.sort_key),
            projection_type=dynamodb.ProjectionType[index.projection],
        )
    return table
