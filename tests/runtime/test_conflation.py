"""The conflation of notices (session_runtime/conflation.py) against moto: several execution environments (each its
own Conflation, as each Lambda environment builds one) writing one session's slot at once, a clock the test moves."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from session_runtime.conflation import INTERVAL_MS, STALE_TRAILING_MS, Conflation, TrailingNotice

SESSION = "quiet-river-482"


class Queue:
    def __init__(self) -> None:
        self.scheduled: list[tuple[TrailingNotice, int]] = []

    def schedule(self, notice: TrailingNotice, delay_seconds: int) -> None:
        self.scheduled.append((notice, delay_seconds))


def _environments(store, count: int, queue: Queue, sent: list[tuple[int, dict[str, int]]]) -> list[Conflation]:
    def deliver(session_id: str, pending: dict[str, int], since: int, now: int) -> None:
        sent.append((now, pending))

    return [Conflation(store, queue, {"reactions": deliver, "members": deliver}) for _ in range(count)]


def test_counts_from_many_environments_at_once_add_up_exactly(store):
    now = [1_000_000]
    store.clock = lambda: now[0]
    queue, sent = Queue(), []
    environments = _environments(store, 4, queue, sent)

    def react(k: int) -> None:
        environments[k % 4].changed(SESSION, "reactions", {"👏" if k % 3 else "+1": 1}, add=True)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(react, range(120)))
    assert len(sent) == 1  # the first claim; every other change of the second pends
    assert len(queue.scheduled) == 1  # one trailing notice, however many environments wrote
    (notice, delay), = queue.scheduled
    assert delay == 1 and notice.due == sent[0][0] + INTERVAL_MS
    now[0] = notice.due
    environments[2].trailing(notice)
    total: dict[str, int] = {}
    for _, pending in sent:
        for reaction, count in pending.items():
            total[reaction] = total.get(reaction, 0) + count
    assert total == {"👏": 80, "+1": 40}


def test_a_trailing_notice_with_nothing_pending_sends_nothing_and_frees_the_slot(store):
    now = [5_000_000]
    store.clock = lambda: now[0]
    queue, sent = Queue(), []
    (env,) = _environments(store, 1, queue, sent)
    env.changed(SESSION, "members", {"a": 1})
    env.changed(SESSION, "members", {"b": 1})
    (notice, _), = queue.scheduled
    now[0] += 2 * INTERVAL_MS
    env.changed(SESSION, "members", {"c": 1})  # past the second: claimed at once, `b` with it
    assert [sorted(p) for _, p in sent] == [["a"], ["b", "c"]]
    env.trailing(notice)  # came late: nothing pends
    assert len(sent) == 2
    now[0] += 100
    env.changed(SESSION, "members", {"d": 1})  # within the second: a new trailing notice is scheduled
    assert len(queue.scheduled) == 2


def test_a_trailing_notice_that_never_came_is_replaced_once_stale(store):
    now = [9_000_000]
    store.clock = lambda: now[0]
    queue, sent = Queue(), []
    (env,) = _environments(store, 1, queue, sent)
    env.changed(SESSION, "members", {"a": 1})
    env.changed(SESSION, "members", {"b": 1})
    assert len(queue.scheduled) == 1  # ...and its message is lost
    now[0] += STALE_TRAILING_MS + 2 * INTERVAL_MS
    env.changed(SESSION, "members", {"c": 1})  # claims at once: the second is long over
    now[0] += 10
    env.changed(SESSION, "members", {"d": 1})
    assert len(queue.scheduled) == 2  # the stale mark did not block a new one
    assert [sorted(p) for _, p in sent] == [["a"], ["b", "c"]]
