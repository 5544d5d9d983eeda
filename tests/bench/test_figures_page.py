"""`make bench` (`python -m bench --write-docs`) rewrites each benchmark's own section of docs/figures.md from its
run and nothing else; the tiny runs in test_benchmarks_run.py pass no flag and write nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from bench import _figures
from bench.__main__ import BENCHMARKS

REPO = Path(__file__).resolve().parents[2]


def _run(name: str, table: str, status: int = 0) -> _figures.BenchRun:
    started = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    return _figures.BenchRun(name, f"python -m bench {name}", started, 12.0, 0.5, 1.5, status, [table])


def test_a_run_replaces_its_section_only_and_a_new_benchmark_gets_one() -> None:
    page = (
        "# Figures\n\nhand-written\n\n<!-- bench:fanout -->\nold fan-out\n<!-- /bench:fanout -->\n\n"
        "<!-- bench:requests -->\nold requests\n<!-- /bench:requests -->\n"
    )
    written = _figures.render(page, [_run("fanout", "## Fan-out\n\n| a |\n"), _run("cost", "## Cost\n")], "abc1234")
    assert "old fan-out" not in written and "old requests" in written and "hand-written" in written
    fanout = written[written.index("<!-- bench:fanout -->") : written.index("<!-- /bench:fanout -->")]
    assert "`python -m bench fanout` at commit `abc1234`, 2026-01-02 03:04 UTC" in fanout
    assert "load average 0.5 -> 1.5" in fanout and "### Fan-out" in fanout  # one level below the page's
    assert written.rstrip().endswith(
        "## cost\n\n<!-- bench:cost -->\n"
        + _figures.section(_run("cost", "## Cost\n"), "abc1234")
        + "<!-- /bench:cost -->"
    )
    assert _figures.render(written, [_run("fanout", "## Fan-out\n\n| a |\n")], "abc1234") == written  # idempotent


def test_a_run_whose_checks_failed_says_so() -> None:
    assert "checks failed" in _figures.section(_run("fanout", "## F\n", status=1), "abc1234")


def test_the_figures_page_has_a_section_for_every_benchmark() -> None:
    page = (REPO / "docs" / "figures.md").read_text()
    sections = set(re.findall(r"<!-- bench:([a-z]+) -->", page))
    assert set(BENCHMARKS) <= sections
    assert sections == set(re.findall(r"<!-- /bench:([a-z]+) -->", page))
