"""The action budget's token buckets, on a fake clock."""

from __future__ import annotations

from session_protocol.frames import ACTIONS
from session_runtime.budget import MAX_TRACKED_CONNECTIONS, ActionBudget, Limits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budget(clock: Clock, **limits: float) -> ActionBudget:
    values = {"action_burst": 5, "action_rate": 10.0, "read_burst": 2, "read_rate": 1.0} | limits
    return ActionBudget(Limits(**values), clock=clock)  # type: ignore[arg-type]


def test_a_burst_is_accepted_then_the_next_frame_waits_for_its_token() -> None:
    clock = Clock()
    b = budget(clock)
    assert [b.charge("c1", reads=ACTIONS.reads("ping")) for _ in range(5)] == [None] * 5
    assert b.charge("c1", reads=ACTIONS.reads("ping")) == 100  # 10 tokens/s: the next one in 100 ms
    clock.now += 0.1
    assert b.charge("c1", reads=ACTIONS.reads("ping")) is None
    assert b.charge("c1", reads=ACTIONS.reads("ping")) == 100


def test_reads_are_limited_first_and_a_limited_read_says_when_to_retry() -> None:
    clock = Clock()
    b = budget(clock)
    assert [b.charge("c1", reads=ACTIONS.reads("history")) for _ in range(2)] == [None, None]
    assert b.charge("c1", reads=ACTIONS.reads("history")) == 1000  # 1 read/s
    assert b.charge("c1", reads=ACTIONS.reads("join")) == 1000  # join is a read too
    assert b.charge("c1", reads=ACTIONS.reads("ping")) is None  # other frames still pass
    clock.now += 0.5
    assert b.charge("c1", reads=ACTIONS.reads("history")) == 500


def test_a_charged_read_counts_against_the_next_one() -> None:
    clock = Clock()
    b = budget(clock)
    b.charge_read("c1")
    b.charge_read("c1")
    assert b.charge("c1", reads=ACTIONS.reads("history")) == 1000


def test_connections_have_their_own_buckets_and_a_forgotten_one_starts_full() -> None:
    clock = Clock()
    b = budget(clock)
    for _ in range(5):
        b.charge("spammer", reads=ACTIONS.reads("ping"))
    assert b.charge("spammer", reads=ACTIONS.reads("ping")) is not None
    assert b.charge("quiet", reads=ACTIONS.reads("ping")) is None
    b.forget("spammer")
    assert b.charge("spammer", reads=ACTIONS.reads("ping")) is None


def test_a_bucket_refills_to_its_burst_and_no_further() -> None:
    clock = Clock()
    b = budget(clock)
    b.charge("c1", reads=ACTIONS.reads("ping"))
    clock.now += 3600
    assert [b.charge("c1", reads=ACTIONS.reads("ping")) for _ in range(6)] == [None] * 5 + [100]


def test_memory_is_bounded_by_forgetting_the_least_recently_seen() -> None:
    clock = Clock()
    b = budget(clock, action_burst=1)
    b.charge("oldest", reads=ACTIONS.reads("ping"))
    for n in range(MAX_TRACKED_CONNECTIONS):
        b.charge(f"c{n}", reads=ACTIONS.reads("ping"))
    assert len(b._buckets) == MAX_TRACKED_CONNECTIONS
    assert b.charge("oldest", reads=ACTIONS.reads("ping")) is None  # forgotten, so full again
