"""`make dev` installs only requirements-local.txt, yet the local stack and README's "Try it" (`local listen`,
`local speak`: the Python client) must run on it. The test venv has everything, so a missing entry would pass
every other test and fail a newcomer's first run: every third-party module the local stack's code imports
(lazily imported ones included) must come from a distribution that file installs, directly or as a dependency.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
# aws_model (the AWS limits and prices as data) is the project's own too: `serve --aws-limits` reads it.
LOCAL_CODE = [
    ROOT / "local",
    ROOT / "lambdas",
    ROOT / "aws_model",
    ROOT / "clients" / "python" / "live_sessions_client",
]
OWN_PACKAGES = {"local", "aws_model"} | {p.name for p in (ROOT / "lambdas").iterdir() if p.is_dir()}


def _imported_modules() -> dict[str, str]:
    """Top-level third-party module -> a file importing it."""
    found: dict[str, str] = {}
    for folder in LOCAL_CODE:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN_PACKAGES:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _requirements(path: Path) -> list[Requirement]:
    """The requirements a pip requirements file installs, following `-r` and naming `-e` projects."""
    wanted: list[Requirement] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            wanted += _requirements(path.parent / line[3:].strip())
        elif line.startswith("-e "):
            project = (path.parent / line[3:].strip() / "pyproject.toml").read_text(encoding="utf-8")
            wanted.append(Requirement(re.search(r'^name = "([^"]+)"', project, re.M).group(1)))  # type: ignore[union-attr]
        else:
            wanted.append(Requirement(line))
    return wanted


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_closure(roots: list[Requirement]) -> set[str]:
    """Every distribution installing `roots` brings in (requested extras included)."""
    seen: set[str] = set()
    todo = [(r.name, frozenset(r.extras)) for r in roots]
    while todo:
        name, extras = todo.pop()
        key = _normal(name)
        if key in seen:
            continue
        seen.add(key)
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras | {""}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def _not_installed_by(requirements: Path) -> dict[str, str]:
    """Imported module -> a file importing it, for each module no distribution `requirements` installs has."""
    installed = _installed_closure(_requirements(requirements))
    distributions = metadata.packages_distributions()
    return {
        module: where
        for module, where in _imported_modules().items()
        if not any(_normal(d) in installed for d in distributions.get(module, [module]))
    }


def test_make_dev_installs_every_module_the_local_stack_and_try_it_import() -> None:
    missing = _not_installed_by(ROOT / "requirements-local.txt")
    assert missing == {}, f"requirements-local.txt (make dev) does not install what these import: {missing}"


def test_a_requirements_file_without_the_python_client_is_caught(tmp_path: Path) -> None:
    # The first run this guards: `local listen` imports the client lazily, inside its command.
    lines = (ROOT / "requirements-local.txt").read_text(encoding="utf-8").splitlines()
    without = [line for line in lines if "clients/python" not in line and not line.startswith("-r ")]
    without.append(f"-r {ROOT / 'requirements.txt'}")
    (tmp_path / "requirements-local.txt").write_text("\n".join(without), encoding="utf-8")
    assert set(_not_installed_by(tmp_path / "requirements-local.txt")) == {"live_sessions_client"}
