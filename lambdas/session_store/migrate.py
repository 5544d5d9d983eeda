"""Rewrite items stored by older code in the canonical shape.

    python -m session_store.migrate --table NAME [--dry-run] [--endpoint-url URL]

Reads every item (an administrative Scan, page by page), decodes it through the codec (which already
normalizes legacy shapes on read) and writes back what the codec would write today. Each rewrite is
conditional on the item being exactly as it was read, so an update that lands meanwhile is never
overwritten: that item is reported and left for the next run. Canonical items are skipped, so running
it again is harmless. Exit status: 0 done, 1 corrupt items found (listed), 2 conflicts (run it again).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from session_schema import keys
from session_schema.codec import canonical_item
from session_schema.errors import CorruptRecord

from . import expressions as ex
from .legacy import unchanged_condition


@dataclass
class MigrationReport:
    scanned: int = 0
    canonical: int = 0
    migrated: int = 0
    conflicts: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    planned: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "canonical": self.canonical,
            "migrated": self.migrated,
            "conflicts": self.conflicts,
            "corrupt": self.corrupt,
        }


def _where(item: Mapping[str, Any]) -> str:
    return f"{item.get(keys.PK, {}).get('S')}/{item.get(keys.SK, {}).get('S')}"


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": _where(old),
        "removed": sorted(set(old) - set(new)),
        "added": sorted(set(new) - set(old)),
        "changed": sorted(k for k in set(old) & set(new) if old[k] != new[k]),
    }


def _scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**request)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def migrate(client: Any, table: str, *, dry_run: bool) -> MigrationReport:
    report = MigrationReport()
    for item in _scan(client, table):
        report.scanned += 1
        try:
            new = canonical_item(item)
        except CorruptRecord as error:
            report.corrupt.append(f"{_where(item)}: {error}")
            continue
        if new == item:
            report.canonical += 1
            continue
        report.planned.append(_diff(item, new))
        if dry_run:
            continue
        same_key = all(new.get(k) == item.get(k) for k in (keys.PK, keys.SK))
        try:
            if same_key:
                client.put_item(TableName=table, Item=new, **unchanged_condition(item))
            else:
                old_key = {k: item[k] for k in (keys.PK, keys.SK)}
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": table, "Item": new, **ex.params(condition=ex.NEW_ITEM)}},
                        {"Delete": {"TableName": table, "Key": old_key, **unchanged_condition(item)}},
                    ]
                )
            report.migrated += 1
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                report.conflicts.append(_where(item))
            else:
                raise
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session_store.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", required=True, help="the sessions table")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    parser.add_argument("--endpoint-url", help="another DynamoDB (DynamoDB Local, the local stack)")
    args = parser.parse_args(argv)
    client = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    report = migrate(client, args.table, dry_run=args.dry_run)
    for change in report.planned:
        print(("would rewrite " if args.dry_run else "rewrote ") + json.dumps(change, allow_nan=False))
    print(json.dumps(report.summary(), indent=2, allow_nan=False))
    if report.corrupt:
        return 1  # items no reader understands: a person has to look at them
    return 2 if report.conflicts else 0  # items changed meanwhile: run it again


if __name__ == "__main__":
    sys.exit(main())
