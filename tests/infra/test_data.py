"""Table, bucket and user pool: built from the schema module, private, and kept in prod."""

from __future__ import annotations

import pytest

from session_schema.keys import TABLE
from session_schema.storage import UPLOAD_CORS_HEADERS, UPLOAD_CORS_METHODS


def _props(synth, construct) -> dict:
    return synth.template["Resources"][synth.logical_id(construct)]["Properties"]


def test_table_keys_and_indexes_are_the_schema_modules(dev):
    props = _props(dev, dev.stack.table)
    assert props["KeySchema"] == [
        {"AttributeName": TABLE.partition_key, "KeyType": "HASH"},
        {"AttributeName": TABLE.sort_key, "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == {
        (name, "S") for name in TABLE.key_attributes()
    }
    deployed = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert set(deployed) == {index.name for index in TABLE.indexes}
    for index in TABLE.indexes:
        assert deployed[index.name]["KeySchema"] == [
            {"AttributeName": index.partition_key, "KeyType": "HASH"},
            {"AttributeName": index.sort_key, "KeyType": "RANGE"},
        ]
        assert deployed[index.name]["Projection"] == {"ProjectionType": index.projection}


def test_table_matches_the_local_stacks_definition(dev):
    # The local stack creates its table from TABLE.create_table_kwargs: same keys, same indexes, same billing.
    local = TABLE.create_table_kwargs("local")
    props = _props(dev, dev.stack.table)
    assert props["KeySchema"] == local["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(local["AttributeDefinitions"], key=str)
    assert props["BillingMode"] == local["BillingMode"] == "PAY_PER_REQUEST"


def test_table_ttl_pitr_and_encryption(dev):
    props = _props(dev, dev.stack.table)
    assert props["TimeToLiveSpecification"] == {"AttributeName": TABLE.ttl_attribute, "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


@pytest.mark.parametrize(
    "stage, policy", [("dev", "Delete"), ("prod", "Retain")], ids=["dev-deletes", "prod-retains"]
)
def test_stateful_resources_are_retained_only_in_prod(request, stage, policy):
    synth = request.getfixturevalue(stage)
    stateful = [synth.stack.table, synth.stack.storage.artifacts, synth.stack.auth.user_pool]
    for construct in stateful:
        resource = synth.template["Resources"][synth.logical_id(construct)]
        assert resource["DeletionPolicy"] == policy, construct.node.path
        assert resource["UpdateReplacePolicy"] == policy, construct.node.path


def test_prod_table_has_deletion_protection(prod):
    assert _props(prod, prod.stack.table)["DeletionProtectionEnabled"] is True


def test_bucket_blocks_public_access_and_is_encrypted(dev):
    props = _props(dev, dev.stack.storage.artifacts)
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": dev.logical_id(dev.stack.storage.access_logs)
    }


def test_bucket_policy_denies_requests_without_tls(dev):
    bucket_ref = {"Ref": dev.logical_id(dev.stack.storage.artifacts)}
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in dev.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == bucket_ref
    ]
    assert len(policies) == 1
    denies = [
        s
        for s in policies[0]
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denies and denies[0]["Action"] == "s3:*" and denies[0]["Principal"] == {"AWS": "*"}


def test_bucket_cors_allows_presigned_browser_uploads(dev):
    (rule,) = _props(dev, dev.stack.storage.artifacts)["CorsConfiguration"]["CorsRules"]
    assert set(rule["AllowedMethods"]) == set(UPLOAD_CORS_METHODS) >= {"POST"}  # uploads are presigned POST forms
    assert rule["AllowedOrigins"] == ["*"]
    assert set(rule["AllowedHeaders"]) == set(UPLOAD_CORS_HEADERS) == {"Content-Type", "Content-Length"}


def test_user_pool_is_invite_only_with_email_sign_in_and_a_strong_password_policy(dev):
    props = _props(dev, dev.stack.auth.user_pool)
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["UsernameAttributes"] == ["email"]
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[key] for key in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))


def test_app_client_is_public_with_srp_and_password_flows(dev):
    props = _props(dev, dev.stack.auth.client)
    assert props.get("GenerateSecret", False) is False
    assert {"ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} <= set(
        props["ExplicitAuthFlows"]
    )
