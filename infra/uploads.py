"""The artifacts bucket tells the upload function of every object stored in it (an S3 event notification), so
an artifact's upload is confirmed by storage, not by the client (session_runtime/uploads.py). S3 invokes it
asynchronously: a failed invocation is retried and then kept in a dead-letter queue (an alarm watches it)."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.failure_queue import keep_async_failures


def notify_uploads(scope: Construct, config: StackConfig, bucket: s3.Bucket, function: lambda_.Function) -> sqs.Queue:
    """Every created object (a presigned POST is `s3:ObjectCreated:Post`) invokes `function`; its failures queue."""
    bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(function))
    return keep_async_failures(scope, "UploadNotificationFailures", config, function)
