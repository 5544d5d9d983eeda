"""The per-operation units the keynote bench reads (aws_model/operation_units.py), for today's keys."""

from __future__ import annotations

from aws_model import capacity
from aws_model.operation_units import operation_units


def test_a_join_and_a_leave_cost_the_same_transactional_writes_and_the_session_item_takes_its_share():
    costs = operation_units(100)
    assert costs.join.total.write == costs.leave.total.write > 0
    assert costs.join.total.read == costs.leave.total.read == 0
    assert costs.join.by_partition["SESSION#quiet-river-482"].write >= 2  # transactional: 2 units per KB
    assert sum(u.write for u in costs.join.by_partition.values()) == costs.join.total.write


def test_a_broadcasts_reads_grow_with_its_listeners_by_their_items_whole_size():
    small, large = operation_units(100), operation_units(10_000)
    assert large.broadcast_reads.total.read > 50 * small.broadcast_reads.total.read
    # at least the items' whole size in 4 KB units, strongly consistent (one partition: 10,000 reads)
    (partition,) = large.broadcast_reads.by_partition
    assert partition.startswith("CONNS#quiet-river-482")
    assert large.broadcast_reads.total.read >= capacity.read_units(10_000 * 180, "strong")
    assert operation_units(0).broadcast_reads.total.read == 1  # one Query that finds nothing still costs a unit
