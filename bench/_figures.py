"""`python -m bench --write-docs`: each benchmark's tables from this run replace its section of docs/figures.md.

A section is what lies between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`: it holds one run only, headed by
its command, commit, date, machine and load average; the page around the markers is written by hand. A benchmark
not run leaves its section as it was; one with no section yet gets one at the end. Older runs stay in git history.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench._common import REPO_ROOT, machine

FIGURES_PAGE = REPO_ROOT / "docs" / "figures.md"


@dataclass(frozen=True)
class BenchRun:
    """One benchmark's run: what was typed, when, on what, and the tables it printed."""

    name: str
    command: str
    started: datetime
    seconds: float
    load_before: float
    load_after: float
    status: int
    tables: list[str]


def _start(name: str) -> str:
    return f"<!-- bench:{name} -->"


def _end(name: str) -> str:
    return f"<!-- /bench:{name} -->"


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # This page itself is not a change to the code measured (an earlier benchmark of the run wrote it).
    this_page = f":!{FIGURES_PAGE.relative_to(REPO_ROOT)}"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", this_page)
    return head + (" with uncommitted changes" if changed else "")


def section(run: BenchRun, commit: str) -> str:
    """The section's body: the run's header line, then its tables one heading level below the page's."""
    header = (
        f"`{run.command}` at commit `{commit}`, {run.started:%Y-%m-%d %H:%M} UTC, on {machine()}; "
        f"load average {run.load_before:.1f} -> {run.load_after:.1f}; {run.seconds:.0f} s"
    )
    if run.status:
        header += "; **the benchmark's own checks failed in this run** (see its notes)"
    tables = [re.sub(r"^## ", "### ", text, count=1) for text in run.tables]
    return "\n".join([header, "", *tables]).rstrip("\n") + "\n"


def render(page: str, runs: list[BenchRun], commit: str) -> str:
    """The page with each run's section replaced (or appended, under a heading of its name, when missing)."""
    for run in runs:
        start, end = _start(run.name), _end(run.name)
        body = f"{start}\n{section(run, commit)}{end}"
        if start in page and end in page:
            page = page[: page.index(start)] + body + page[page.index(end) + len(end) :]
        else:
            page = page.rstrip("\n") + f"\n\n## {run.name}\n\n{body}\n"
    return page


def write(runs: list[BenchRun], path: Path = FIGURES_PAGE) -> None:
    path.write_text(render(path.read_text(), runs, _commit()))
    print(f"wrote {', '.join(run.name for run in runs)} into {path}", flush=True)
