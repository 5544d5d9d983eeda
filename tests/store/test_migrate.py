"""The migration rewrites legacy items canonically, never overwrites a concurrent update, and re-runs cleanly."""

from __future__ import annotations

from session_schema import codec, keys
from session_schema.models import Session
from session_schema.status import SessionStatus
from session_store.migrate import main, migrate

from tests.support.aws import TABLE_NAME

LEGACY_SESSION = {
    "PK": "SESSION#quiet-river-482",
    "SK": "META",
    "Data": {"requestId": "quiet-river-482", "ownerId": "user-a", "isActive": True, "createdAt": 1700000000000},
}


def put_raw(ddb, document):
    ddb.put_item(TableName=TABLE_NAME, Item=codec.serialize(document))


def raw(ddb, session_id):
    return ddb.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.session_key(session_id)))["Item"]


def test_dry_run_reports_and_writes_nothing(ddb, capsys):
    put_raw(ddb, LEGACY_SESSION)
    before = raw(ddb, "quiet-river-482")
    assert main(["--table", TABLE_NAME, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would rewrite" in out and "SESSION#quiet-river-482/META" in out and '"Data"' in out
    assert raw(ddb, "quiet-river-482") == before


def test_migration_writes_the_canonical_item_and_is_rerunnable(ddb, store):
    put_raw(ddb, LEGACY_SESSION)
    put_raw(
        ddb, {"PK": "SESSION#brave-otter-001", "SK": "META", "ownerId": "user-b", "isActive": False, "createdAt": 5}
    )
    canonical, _ = store.create_session(owner_id="user-c", title="new", source_language="en", max_listeners=3)
    first = migrate(ddb, TABLE_NAME, dry_run=False)
    assert (first.migrated, first.canonical, first.conflicts, first.corrupt) == (2, 1, [], [])
    item = raw(ddb, "quiet-river-482")
    assert codec.is_canonical(item) and "Data" not in item and "isActive" not in item
    session = codec.decode_as(item, Session)
    assert session.status is SessionStatus.ACTIVE and session.ownerId == "user-a"
    # the migrated legacy session is now visible in its owner's listing (it gained its index keys)
    assert [s.sessionId for s in store.list_user_sessions("user-a", limit=5, cursor=None).items] == ["quiet-river-482"]
    assert store.get_session("brave-otter-001").status is SessionStatus.ENDED
    second = migrate(ddb, TABLE_NAME, dry_run=False)
    assert (second.migrated, second.canonical) == (0, 3)


def test_a_concurrent_update_is_never_overwritten(ddb, monkeypatch):
    put_raw(ddb, LEGACY_SESSION)
    import session_store.migrate as module

    real = module.canonical_item

    def racing(item):  # another writer changes the item between the read and the rewrite
        ddb.update_item(
            TableName=TABLE_NAME,
            Key=codec.serialize_key(keys.session_key("quiet-river-482")),
            UpdateExpression="SET title = :t",
            ExpressionAttributeValues={":t": {"S": "changed meanwhile"}},
        )
        return real(item)

    monkeypatch.setattr(module, "canonical_item", racing)
    report = migrate(ddb, TABLE_NAME, dry_run=False)
    assert report.conflicts == ["SESSION#quiet-river-482/META"] and report.migrated == 0
    assert raw(ddb, "quiet-river-482")["title"] == {"S": "changed meanwhile"}


def test_corrupt_items_are_reported_not_rewritten(ddb, capsys):
    put_raw(ddb, {"PK": "SESSION#quiet-river-482", "SK": "META", "status": "running", "ownerId": "x", "createdAt": 1})
    assert main(["--table", TABLE_NAME]) == 1
    assert "quiet-river-482" in capsys.readouterr().out


def test_conflicts_exit_2_so_a_script_knows_to_run_it_again(ddb, monkeypatch, capsys):
    put_raw(ddb, LEGACY_SESSION)
    import session_store.migrate as module

    def conflicting(client, table, *, dry_run):  # another writer won the race for the only item
        return module.MigrationReport(scanned=1, conflicts=["SESSION#quiet-river-482/META"])

    monkeypatch.setattr(module, "migrate", conflicting)
    assert main(["--table", TABLE_NAME]) == 2
    assert "SESSION#quiet-river-482/META" in capsys.readouterr().out


def test_the_command_runs_as_documented_against_a_dynamodb_endpoint(tmp_path):
    """`python -m session_store.migrate` as `make migrate` runs it: its own process, PYTHONPATH=lambdas."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import boto3
    from moto.server import ThreadedMotoServer

    from session_schema.keys import TABLE

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        client.create_table(**TABLE.create_table_kwargs(TABLE_NAME))
        client.put_item(TableName=TABLE_NAME, Item=codec.serialize(LEGACY_SESSION))
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root / "lambdas")}
        command = [sys.executable, "-m", "session_store.migrate", "--table", TABLE_NAME, "--endpoint-url", endpoint]

        def run(*extra: str) -> subprocess.CompletedProcess:
            return subprocess.run([*command, *extra], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

        dry = run("--dry-run")
        assert dry.returncode == 0 and "would rewrite" in dry.stdout, dry.stderr
        assert not codec.is_canonical(raw(client, "quiet-river-482"))
        done = run()
        assert done.returncode == 0 and "rewrote" in done.stdout, done.stderr
        assert codec.is_canonical(raw(client, "quiet-river-482"))
        again = run()
        assert again.returncode == 0 and '"migrated": 0' in again.stdout
    finally:
        server.stop()
