"""`local/` is one package per AWS service it stands in for (local/README.md, "Layout"): a module imports
another service only through that service's declared entry points (its `__init__`'s `__all__`), never
its internal modules, so each service's modules can be split or renamed without touching the others.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

LOCAL = Path(__file__).resolve().parents[2] / "local"
SERVICES = sorted(p.name for p in LOCAL.iterdir() if (p / "__init__.py").is_file())


def _entry_points(service: str) -> set[str]:
    return set(importlib.import_module(f"local.{service}").__all__)


def _dotted(path: Path) -> str:
    """`local/apigw/ws_gateway.py` -> `local.apigw.ws_gateway` (a package's `__init__` is the package)."""
    parts = path.relative_to(LOCAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _service_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "local" and parts[1] in SERVICES else None


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Each import in `source` (the code of `module`) that reaches into another service's internals, or
    uses a name its `__init__` does not declare."""
    own = _service_of(module)
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    service_aliases: dict[str, str] = {}  # `from local import dynamodb`: dynamodb.<name> must be declared

    def check(target: str, names: list[str], line: int) -> None:
        service = _service_of(target)
        if service is None or service == own:
            return
        if target != f"local.{service}":
            found.append(f"line {line}: {target} is internal to local.{service}; import from local.{service}")
            return
        for name in sorted(set(names) - _entry_points(service)):
            found.append(f"line {line}: {name} is not among local.{service}'s entry points (__all__)")

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, [], node.lineno)
                if alias.asname and _service_of(alias.name) not in (None, own) and alias.name.count(".") == 1:
                    service_aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if _service_of(submodule) is not None and submodule.count(".") == 1:  # `from local import dynamodb`
                    check(submodule, [], node.lineno)
                    if _service_of(submodule) != own:
                        service_aliases[alias.asname or alias.name] = submodule
                else:
                    check(base, [alias.name], node.lineno)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in service_aliases:
            check(service_aliases[node.value.id], [node.attr], node.lineno)
    return found


@pytest.mark.parametrize("path", sorted(LOCAL.rglob("*.py")), ids=lambda p: str(p.relative_to(LOCAL)))
def test_a_module_imports_other_services_only_through_their_entry_points(path: Path) -> None:
    module = _dotted(path)
    assert violations(module, path.read_text(encoding="utf-8"), path.name == "__init__.py") == []


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_declares_entry_points_it_has(service: str) -> None:
    package = importlib.import_module(f"local.{service}")
    declared = package.__all__
    assert declared, f"local.{service} declares no entry points"
    assert [name for name in declared if not hasattr(package, name)] == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("local.stack", "from .apigw.http_gateway import HttpGateway", "local.apigw.http_gateway is internal"),
        ("local.apigw.http_gateway", "from local.lambda_service.lambda_pools import Throttled", "internal"),
        ("local.apigw.ws_gateway", "from ..lambda_service import _Worker", "_Worker is not among"),
        ("local.stack", "import local.dynamodb.backend", "local.dynamodb.backend is internal"),
        ("local.stack", "from . import dynamodb\ndynamodb._serialized(app)", "_serialized is not among"),
    ],
)
def test_the_check_catches_an_import_of_another_services_internals(module: str, source: str, expected: str) -> None:
    found = violations(module, source)
    assert len(found) == 1 and expected in found[0], found


def test_the_check_allows_entry_points_and_a_services_own_modules() -> None:
    assert violations("local.stack", "from .apigw import HttpGateway\nfrom . import dynamodb\ndynamodb.REGION") == []
    assert violations("local.apigw.http_gateway", "from .management import handle_management") == []
