"""Import rules between the top-level packages, read from the source (ast). The packages form layers:
gateway/ (settings, database and Redis wiring, embedded servers) at the bottom imports nothing of ours; cli/
(the process entry points) at the top may import everything and nothing imports it; graph/ (the API) and
jobs/ (the worker) both stand on resolvers/ and services/, never on each other. No cycle anywhere."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis

ROOT = Path(__file__).resolve().parent.parent


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports, wherever the import sits (also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


# Which of our packages each package may import (besides itself). A new arrow is a design decision.
MAY_IMPORT: dict[str, set[str]] = {
    "gateway": set(),
    "models": set(),
    "services": {"gateway", "models"},
    "loaders": {"models"},
    "migrations": {"gateway", "models"},
    "resolvers": {"gateway", "models", "services", "loaders"},
    "graph": {"gateway", "models", "services", "loaders", "resolvers"},
    "jobs": {"gateway", "models", "services", "loaders", "resolvers"},
    "cli": {"gateway", "models", "services", "loaders", "resolvers", "graph", "jobs", "migrations"},
}
PACKAGES = set(MAY_IMPORT)


def package_imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        found |= imported_packages(path)
    return (found & PACKAGES) - {package}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle through the packages, each found once from its smallest member."""
    found: list[list[str]] = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for following in sorted(graph.get(node, set())):
            if following == start:
                found.append([*path, start])
            elif following not in path and following > start:
                walk(start, following, [*path, following])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def test_every_top_level_package_is_in_the_layer_table() -> None:
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == PACKAGES


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    assert package_imports(package) - MAY_IMPORT[package] == set()


def test_no_cycle_between_top_level_packages() -> None:
    assert cycles({package: package_imports(package) for package in PACKAGES}) == []


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert cycles({"gateway": {"graph"}, "graph": {"gateway"}, "models": set()}) == [["gateway", "graph", "gateway"]]


def offenders(package: str, forbidden: str) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT)) for path in (ROOT / package).rglob("*.py") if forbidden in imported_packages(path)
    )


def test_graph_does_not_import_jobs() -> None:
    assert offenders("graph", "jobs") == []


def test_jobs_does_not_import_graph() -> None:
    assert offenders("jobs", "graph") == []


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from graph.node import column_values\n    import jobs.tasks\n")
    assert imported_packages(module) == {"graph", "jobs"}
