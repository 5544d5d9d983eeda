"""The per-operation units the keynote bench reads (aws_model/operation_units.py), for today's keys."""

from __future__ import annotations

from session_schema import codec
from session_schema.models import Connection

from aws_model import capacity
from aws_model.operation_units import operation_units


def test_a_join_and_a_leave_cost_the_same_transactional_writes_and_the_session_item_takes_its_share():
    costs = operation_units(100)
    assert costs.join.total.write == costs.leave.total.write > 0
    assert costs.join.total.read == costs.leave.total.read == 0
    assert costs.join.by_partition["SESSION#quiet-river-482"].write >= 2  # transactional: 2 units per KB
    assert sum(u.write for u in costs.join.by_partition.values()) == costs.join.total.write


def test_a_broadcasts_reads_grow_with_its_listeners_by_their_items_whole_size():
    # (without the deploy window's Query of the old range: one unit, however many listeners)
    small, large = operation_units(100, legacy_reads=False), operation_units(10_000, legacy_reads=False)
    assert large.broadcast_reads.total.read > 50 * small.broadcast_reads.total.read
    # at least the entries' whole size in 4 KB units, strongly consistent (one partition: 10,000 reads)
    entry = Connection(
        connectionId="A" * 16, sessionId="quiet-river-482", role="listener", connectedAt=0, expiresAt=10**9, partition=0
    ).entry()
    whole_entries = 10_000 * capacity.item_size(codec.encode(entry))
    assert large.broadcast_reads.by_partition["CONNS#quiet-river-482#0"].read >= capacity.read_units(whole_entries)
    # every range read costs at least a unit, found or not: the connections' partition and the legacy range
    assert operation_units(0, legacy_reads=True).broadcast_reads.by_partition == {
        "CONNS#quiet-river-482#0": capacity.Units(read=1.0),
        "SESSION#quiet-river-482": capacity.Units(read=1.0),
    }
    assert operation_units(0, legacy_reads=False).broadcast_reads.total.read == 1


def test_spreading_connections_over_partitions_divides_the_hottest_partitions_reads_not_the_total():
    one, eight = operation_units(10_000), operation_units(10_000, partitions=8)
    assert eight.broadcast_reads.hottest.read < one.broadcast_reads.hottest.read / 6
    assert eight.broadcast_reads.total.read >= one.broadcast_reads.total.read
