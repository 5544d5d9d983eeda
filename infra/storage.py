"""S3 bucket for session artifacts (uploads by presigned POST), plus its server-access-log bucket."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from session_schema.storage import UPLOAD_CORS_HEADERS, UPLOAD_CORS_MAX_AGE_SECONDS, UPLOAD_CORS_METHODS

from infra.config import StackConfig


@dataclass(frozen=True)
class Storage:
    artifacts: s3.Bucket
    access_logs: s3.Bucket


def _private_bucket_props(config: StackConfig) -> dict:
    return dict(
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=config.removal_policy,
        # Emulated: off. CDK's auto-delete custom resource is a Node.js Lambda that imports the runtime's
        # @aws-sdk/client-s3, which the emulator's local executor does not have: the deploy hangs on it.
        auto_delete_objects=not config.is_prod and not config.is_emulated,
    )


def _artifact_lifecycle(config: StackConfig) -> list[s3.LifecycleRule]:
    rules = [s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1))]
    if config.is_prod:  # versioned in prod: old versions are a safety net, not an archive
        rules.append(s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30)))
    return rules


def build_storage(scope: Construct, config: StackConfig) -> Storage:
    access_logs = s3.Bucket(
        scope,
        "AccessLogsBucket",
        **_private_bucket_props(config),
        # S3 log delivery writes through the bucket policy CDK adds (no ACLs with BUCKET_OWNER_ENFORCED).
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365 if config.is_prod else 30))],
    )
    artifacts = s3.Bucket(
        scope,
        "ArtifactsBucket",
        **_private_bucket_props(config),
        versioned=config.is_prod,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="artifacts/",
        cors=[
            s3.CorsRule(
                allowed_methods=[s3.HttpMethods(m) for m in UPLOAD_CORS_METHODS],
                allowed_origins=["*"],  # the presigned form is the credential; any web origin may use it
                allowed_headers=list(UPLOAD_CORS_HEADERS),
                max_age=UPLOAD_CORS_MAX_AGE_SECONDS,
            )
        ],
        lifecycle_rules=_artifact_lifecycle(config),
    )
    return Storage(artifacts=artifacts, access_logs=access_logs)
